"""Queries over `api_clients`."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select

from src.core.prepared import fetch
from src.core.scopes import Scope
from src.models.api_client import ApiClient
from src.models.principal import ActiveClient
from src.repositories.base import Repository

_clients = ApiClient.__table__
# Built once, like the user's (src/repositories/user.py): run for every request a client makes.
_ACTIVE = select(
    _clients.c.id, _clients.c.client_id, _clients.c.name, _clients.c.scopes, _clients.c.rate_limit
).where(
    _clients.c.id == bindparam("client_id"),
    _clients.c.is_active.is_(True),
    _clients.c.revoked_at.is_(None),
)


class ApiClientRepository(Repository[ApiClient]):
    model = ApiClient

    async def get_active(self, client_id: uuid.UUID) -> ActiveClient | None:
        """The client, if active and not revoked: one query, run for every request it makes."""
        rows = await fetch(self.session, _ACTIVE, {"client_id": client_id})
        if not rows:
            return None
        row = rows[0]
        return ActiveClient(
            id=row["id"],
            client_id=row["client_id"],
            name=row["name"],
            scopes=frozenset(Scope(s) for s in row["scopes"] if s in _KNOWN),
            rate_limit=row["rate_limit"],
        )


# A scope a later version dropped is ignored rather than failing every request of the client.
_KNOWN = frozenset(Scope)
