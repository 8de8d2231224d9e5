"""The reference's check of an API client's access token (the `client-token` scenario):
what Stockroom does after the JWT itself verifies, written plainly (see
`ApiClientRepository.get_active` and `AuthService._current_client`): in one query the
client, checked active and not revoked, then the token's scopes checked against the
client's, and the route's scope against the token's."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from starlette.exceptions import HTTPException

# Stockroom's one query per request a client makes.
ACTIVE_CLIENT = (
    "SELECT id, client_id, name, scopes, rate_limit FROM api_clients"
    " WHERE id = $1 AND is_active IS true AND revoked_at IS NULL"
)


async def active_client(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record], client_id: uuid.UUID, scope: Any
) -> dict[str, Any]:
    """The caller as the posting needs it: its id and name, no role, and the scopes its token grants
    (401 when the client is gone or its token grants more than it now holds)."""
    row = await conn.fetchrow(ACTIVE_CLIENT, client_id)
    if row is None:
        raise HTTPException(401, "The access token is no longer valid")
    granted = frozenset(str(scope or "").split())
    if not granted <= frozenset(row["scopes"]):
        raise HTTPException(401, "The access token is no longer valid")
    return {"id": row["id"], "role": None, "scopes": granted, "name": row["name"]}
