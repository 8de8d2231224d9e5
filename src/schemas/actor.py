"""Who made a change, as records and events show it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import orjson
from pydantic import BeforeValidator, Field

from src.models.principal import Actor
from src.schemas.base import Output


class ActorRead(Output):
    """A person (`user`) or a system (`client`, an API client), named as it was at the time
    of the change."""

    type: Literal["user", "client"] = Field(description="A person (user) or an API client")
    id: uuid.UUID = Field(description="The user's or the API client's id")
    name: str = Field(description="The user's full name or the client's name, at the time")

    @classmethod
    def of(cls, actor: Actor) -> ActorRead:
        return cls(type=actor.type, id=actor.id, name=actor.name)


def _decoded(value: Any) -> Any:
    """The stored JSON as a row read on the driver gives it (text), or as it is."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


# A record's `actor` column (JSONB) as the read schemas take it, from the ORM (a dict) or from
# a row read on the driver (`src.core.prepared`: JSON text).
StoredActor = Annotated[ActorRead, BeforeValidator(_decoded)]
