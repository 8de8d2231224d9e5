"""Queries over `api_clients`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, text

from src.core.cursors import CursorCodec
from src.core.prepared import fetch
from src.core.scopes import Scope
from src.models.api_client import ApiClient
from src.models.principal import ActiveClient
from src.repositories.base import PageResult, Repository, SortOrder, contains_any
from src.schemas.filter import ApiClientFilter

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

    async def get_live(self, id_: uuid.UUID, *, for_update: bool = False) -> ApiClient | None:
        """The client unless revoked (a revoked one is gone for the API); locked when it is
        about to change."""
        statement = select(ApiClient).where(ApiClient.id == id_, ApiClient.revoked_at.is_(None))
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(statement)

    async def find_by_client_id(self, client_id: str) -> ApiClient | None:
        """The client a token request names, revoked or not (the grant decides)."""
        return await self.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))

    async def list_page(
        self, filters: ApiClientFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[ApiClient]:
        statement: Select[Any] = select(ApiClient).where(ApiClient.revoked_at.is_(None))
        if filters.is_active is not None:
            statement = statement.where(ApiClient.is_active.is_(filters.is_active))
        if filters.q:
            statement = statement.where(contains_any(filters.q, ApiClient.name))
        return await self.paginate(
            statement, order=CLIENT_SORTS[filters.sort], codec=codec, cursor=cursor, limit=limit
        )

    async def record_use(self, last_used: Mapping[uuid.UUID, datetime]) -> int:
        """Write each client's last use where the stored one is over a minute older: one
        statement for any number of clients. The number of rows written."""
        if not last_used:
            return 0
        result = await self.session.execute(
            _RECORD_USE, {"ids": list(last_used), "ats": list(last_used.values())}
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# A scope a later version dropped is ignored rather than failing every request of the client.
_KNOWN = frozenset(Scope)


BY_CREATED = SortOrder("created_at", (ApiClient.created_at, ApiClient.id))
BY_CREATED_DESC = SortOrder("-created_at", (ApiClient.created_at, ApiClient.id), descending=True)
CLIENT_SORTS = {order.name: order for order in (BY_CREATED, BY_CREATED_DESC)}

# Set-based, whatever the number of clients (one array per column): each client's last use,
# written only where the stored value is more than a minute older, so a busy client costs
# at most one write a minute, and the flushes of several processes never move it back.
_RECORD_USE = text(
    """
    UPDATE api_clients AS c SET last_used_at = u.at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS u(id, at)
    WHERE c.id = u.id
      AND (c.last_used_at IS NULL OR c.last_used_at < u.at - interval '1 minute')
    """
)
