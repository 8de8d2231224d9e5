"""Who did it, as records and events name their actor."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from src.core.scopes import Scope, scope_text
from src.main import build_token_codec
from src.models.api_client import ApiClient
from src.models.user import User
from tests.support.clients import create_api_client
from tests.support.settings import make_settings


def user_actor(user: User) -> dict[str, Any]:
    return {"type": "user", "id": str(user.id), "name": user.full_name}


def client_actor(client: ApiClient) -> dict[str, Any]:
    return {"type": "client", "id": str(client.id), "name": client.name}


async def committed_api_client(
    database_url: str,
    tmp_path: Path,
    *,
    scopes: Iterable[Scope],
    name: str,
    token_scopes: Iterable[Scope] | None = None,
) -> tuple[ApiClient, dict[str, str]]:
    """A committed API client on `database_url` and a bearer header for it (granting
    `token_scopes`, default all the client's), valid on any app of the test settings
    (`make_settings`: one signing key)."""
    scopes = tuple(scopes)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            made = await create_api_client(connection, scopes=scopes, name=name)
    finally:
        await engine.dispose()
    codec = build_token_codec(make_settings(database_url, tmp_path))
    token = codec.issue_client_access(
        made.id, scopes=scope_text(frozenset(token_scopes or scopes)), rate_limit=None
    )
    return made, {"Authorization": f"Bearer {token}"}
