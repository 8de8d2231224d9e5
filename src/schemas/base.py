"""Schema bases: inputs reject unknown fields (no mass assignment), outputs read ORM objects."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError


class Output(BaseModel):
    """A response body. Its published (serialisation) schema lists every member the server
    always sends as `required`, one with a default included, so generated clients need no
    `undefined` check for it; a member sent only at times is `left_out()` when it has no
    value, which keeps it optional. A model also read as a request body is published twice
    (FastAPI's `-Input`/`-Output`, named `XInput`/`XOutput` by src/api/openapi)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Schema(Output):
    model_config = ConfigDict(from_attributes=True)


# An optional member of a response that is absent, never null: `X | Absent` publishes only
# X's type (with `no_default`, no `"default": null` either); the model must drop the None.
Absent = SkipJsonSchema[None]


def no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _no_value(value: object) -> bool:
    return value is None


def left_out(description: str) -> Any:
    """An `X | Absent` member of a response, sent only when it has a value: the model drops
    it itself (`exclude_if`), so every serialisation agrees and the route needs no
    `exclude_none` (which would also drop nulls the contract sends); published as optional
    (not `required`), never null."""
    return Field(
        default=None, description=description, exclude_if=_no_value, json_schema_extra=no_default
    )


def _no_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold U+0000; refuse it here with a clear message.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _spaces_class() -> str:
    # Exactly the characters str.strip() removes, spelled so JSON Schema (ECMA), Python and
    # Rust regexes agree: each engine's own \s differs at the edges (U+001C..U+001F, U+FEFF).
    spaces = (chr(code) for code in range(0x10000) if chr(code).isspace())
    return "".join(f"\\u{ord(char):04x}" for char in spaces)


# Each pattern a field declares, with the rule it states as a sentence: a 422 shows the
# sentence, never the regex (some are 400 characters long); the published JSON Schema keeps
# the pattern, which generators and fuzzers use. Register a pattern with `explained`.
PATTERN_RULES: dict[str, str] = {}


def explained(pattern: str, rule: str) -> str:
    """`pattern`, registered with the sentence a validation error shows in its place."""
    PATTERN_RULES[pattern] = rule
    return pattern


SPACES = _spaces_class()
NO_NUL_PATTERN = explained(r"^[^\u0000]*$", "must not contain NUL characters")
# Not blank: at least one character that is neither NUL nor whitespace.
NOT_BLANK_PATTERN = explained(
    rf"^[^\u0000]*[^\u0000{SPACES}][^\u0000]*$",
    "must not be blank (only whitespace) and must not contain NUL characters",
)


def document_input(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Say in the schema what the validators below enforce, so clients (and fuzzers) that
    trust the schema are not refused: no NUL in text, no null for required PATCH fields."""
    properties: dict[str, dict[str, Any]] = schema.get("properties", {})
    for name, prop in properties.items():
        if name in getattr(model, "_not_nullable", ()):
            branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
            prop.pop("default", None)
            if len(branches) == 1:
                # The field's own words (description, title) win over its type's.
                prop.update({k: v for k, v in branches[0].items() if k not in prop})
            elif branches:
                prop["anyOf"] = branches
        for branch in prop.get("anyOf", [prop]):
            plain = not ({"pattern", "format", "enum", "const"} & branch.keys())
            if branch.get("type") == "string" and plain:
                branch["pattern"] = NO_NUL_PATTERN


# The error context key that says where inside the validated value an error lies.
INNER_LOC = "inner_loc"


def error_inside(inner_loc: tuple[str | int, ...], message: str) -> PydanticCustomError:
    """An error about a part of the value a field validator checks (one item of a list):
    Pydantic places a validator's error at its field; the problem handler
    (`src.api.problems`) appends `inner_loc`, so clients see the exact part."""
    return PydanticCustomError("value_error", message, {INNER_LOC: inner_loc})


class InputSchema(BaseModel):
    # No global whitespace stripping: passwords must be taken exactly as typed.
    model_config = ConfigDict(extra="forbid", json_schema_extra=document_input)

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class PatchSchema(InputSchema):
    """PATCH bodies: a field may be left out, but a required field may not be set to null."""

    _not_nullable: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _reject_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in cls._not_nullable:
                if name in data and data[name] is None:
                    raise ValueError(f"{name} cannot be null")
        return data


def strip(value: str) -> str:
    """Stored without surrounding whitespace; length bounds apply to the text as sent, which is
    what a schema can state."""
    return value.strip()


# A human-readable name: trimmed, never blank.
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=NOT_BLANK_PATTERN),
    AfterValidator(strip),
]


def _storable(value: AwareDatetime) -> AwareDatetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    return value


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_text(value: Any) -> Any:
    # Pydantic would read "2024" as Unix seconds; the contract says RFC 3339. A datetime
    # (a filter built in code rather than parsed from a query string) is taken as it is.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
    return value


# A query timestamp: RFC 3339 text with a timezone, representable in UTC (years 1..9999).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_storable)]


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer, so a field that takes this does too (a product's
    # reorder point); "5" and true stay refused. Stock quantities take integers only
    # (src/schemas/quantity.py).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)
