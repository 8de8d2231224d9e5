"""Who is calling: a person (a user) or a system (an API client). Plain immutable values built
once per request, never ORM entities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from src.core.scopes import ROLE_SCOPES, Scope
from src.models.user import ActiveUser

ActorType = Literal["user", "client"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, as records and events name it: `{"type", "id", "name"}`. The name is
    the one at the time of the change (a user's full name, a client's name)."""

    type: ActorType
    id: uuid.UUID
    name: str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": str(self.id), "name": self.name}


@dataclass(frozen=True, slots=True)
class ActiveClient:
    """An API client as checked for one request (active, not revoked)."""

    id: uuid.UUID
    client_id: str
    name: str
    scopes: frozenset[Scope]
    rate_limit: str | None


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, and the scopes it holds for it: a person's come from the
    role, a client's from its token (never more than the client holds now)."""

    actor: Actor
    scopes: frozenset[Scope]
    user: ActiveUser | None = None
    client: ActiveClient | None = None

    @classmethod
    def of_user(cls, user: ActiveUser) -> Principal:
        return cls(
            actor=Actor("user", user.id, user.full_name),
            scopes=ROLE_SCOPES[user.role.value],
            user=user,
        )

    @classmethod
    def of_client(cls, client: ActiveClient, scopes: frozenset[Scope]) -> Principal:
        return cls(actor=Actor("client", client.id, client.name), scopes=scopes, client=client)

    @property
    def id(self) -> uuid.UUID:
        return self.actor.id

    @property
    def user_id(self) -> uuid.UUID | None:
        """For `created_by` columns, which name people only (null when a client acted)."""
        return self.user.id if self.user is not None else None

    @property
    def is_client(self) -> bool:
        return self.client is not None

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes
