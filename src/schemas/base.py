"""Schema bases: inputs reject unknown fields (no mass assignment), outputs read ORM objects."""

import re
from datetime import UTC
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _no_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold U+0000; refuse it here with a clear message.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class InputSchema(BaseModel):
    # No global whitespace stripping: passwords must be taken exactly as typed.
    model_config = ConfigDict(extra="forbid")

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


# A human-readable name: trimmed, never empty.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _storable(value: AwareDatetime) -> AwareDatetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    return value


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_text(value: Any) -> Any:
    # Pydantic would read "2024" as Unix seconds; the contract says RFC 3339.
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
    return value


# A query timestamp: RFC 3339 text with a timezone, representable in UTC (years 1..9999).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_storable)]
NoNul = AfterValidator(_no_nul)
