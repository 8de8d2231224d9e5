"""API clients as the API shows them, and what creating or changing one takes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StrictBool, field_validator

from src.config.parsing import rate
from src.core.scopes import CLIENT_SCOPES, Scope
from src.schemas.base import (
    InputSchema,
    Name,
    PatchSchema,
    Schema,
    WholeNumber,
    error_inside,
    explained,
)

# The scopes a client may be given, as the published schema lists them.
CLIENT_SCOPE_NAMES = sorted(CLIENT_SCOPES)
_ALL_SCOPES = frozenset(Scope)
MAX_SCOPES = 50

# Each scope is checked by `_client_scopes` (one clear message per item); the schema states
# the same set as an enum.
ScopeName = Annotated[str, Field(json_schema_extra={"enum": CLIENT_SCOPE_NAMES})]
ScopeList = Annotated[
    list[ScopeName],
    Field(
        min_length=1,
        max_length=MAX_SCOPES,
        description="What the client may do (least privilege: only what the system needs);"
        " repeated scopes count once",
    ),
]
# A count per second, minute, hour or day: what `limits` parses, in one spelling.
RATE_LIMIT_PATTERN = explained(
    r"^[1-9][0-9]{0,8}/(?:second|minute|hour|day)$",
    "must look like '1200/minute': a count per second, minute, hour or day",
)
ClientRateLimit = Annotated[
    str,
    Field(
        max_length=32,
        pattern=RATE_LIMIT_PATTERN,
        description="Requests this client may make (its own limit, apart from every user's)",
    ),
    AfterValidator(rate),
]


def _client_scopes(value: list[str] | None) -> list[str] | None:
    """Only scopes a client may hold (people-only ones refused by name of the rule, never by
    echoing the input), stored sorted and once each."""
    if value is None:
        return None
    for index, name in enumerate(value):
        if name in CLIENT_SCOPES:
            continue
        if name in _ALL_SCOPES:
            raise error_inside(
                (index,), "is a scope for people only: an API client can never hold it"
            )
        raise error_inside(
            (index,), f"is no scope an API client can hold: use {', '.join(CLIENT_SCOPE_NAMES)}"
        )
    return sorted(set(value))


class ApiClientCreate(InputSchema):
    name: Name
    scopes: ScopeList
    rate_limit: ClientRateLimit | None = Field(
        default=None, description="Null or left out: the service's default for clients"
    )

    _scopes = field_validator("scopes")(_client_scopes)


class ApiClientUpdate(PatchSchema):
    _not_nullable: ClassVar[tuple[str, ...]] = ("name", "scopes", "rate_limit", "is_active")

    name: Name | None = None
    scopes: ScopeList | None = Field(
        default=None,
        description="The client's scopes from now on; its tokens holding a removed one stop"
        " working at once",
    )
    rate_limit: ClientRateLimit | None = Field(
        default=None, description="Applies to tokens issued from now on"
    )
    is_active: StrictBool | None = Field(
        default=None, description="false: the client's tokens stop working at once"
    )

    _scopes = field_validator("scopes")(_client_scopes)


class SecretRotation(InputSchema):
    previous_valid_for_seconds: Annotated[
        int, Field(ge=0, le=7 * 86_400, strict=True), WholeNumber
    ] = Field(
        description="How long the replaced secret keeps working for token requests (0: not"
        " at all); tokens already issued keep working either way",
    )


class ApiClientRead(Schema):
    id: uuid.UUID
    client_id: str = Field(description="What the client authenticates as (public)")
    name: str
    scopes: list[str]
    rate_limit: str | None = Field(description="Null: the service's default for clients")
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None = Field(
        description="When a token was last issued to or used by the client (to the minute)"
    )


class ApiClientWithSecret(ApiClientRead):
    client_secret: str = Field(
        description="The secret (srs_…): shown only in this response; store it safely"
    )
