"""API clients for tests: a client row written through the test's connection, and an access
token for it minted by the app's own codec (the client credentials grant has its own tests)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote_plus

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.core.scopes import Scope, scope_text
from src.core.tokens import TokenCodec
from src.models.api_client import ApiClient

# The `make_api_client` fixture: keyword arguments of `create_api_client`, a new client.
MakeApiClient = Callable[..., Awaitable[ApiClient]]
# The `client_headers` fixture: Authorization headers for a client (and optional narrowing).
ClientHeaders = Callable[..., dict[str, str]]


async def create_api_client(
    connection: AsyncConnection,
    *,
    scopes: Iterable[Scope] = (Scope.CATALOG_READ, Scope.STOCK_READ),
    name: str = "Test Shop",
    rate_limit: str | None = None,
    is_active: bool = True,
) -> ApiClient:
    """A client row; its secret hash is random (tests that need the secret create the client
    through the API)."""
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        client = ApiClient(
            client_id=f"test_{secrets.token_hex(8)}",
            name=name,
            scopes=sorted(str(s) for s in scopes),
            rate_limit=rate_limit,
            is_active=is_active,
            secret_hash=secrets.token_hex(32),
        )
        session.add(client)
        await session.commit()
        return client


def client_token(app: FastAPI, client: ApiClient, scopes: Iterable[Scope] | None = None) -> str:
    """An access token for `client`, granting `scopes` (default: all the client's)."""
    codec: TokenCodec = app.state.tokens
    granted = frozenset(Scope(s) for s in client.scopes) if scopes is None else frozenset(scopes)
    return codec.issue_client_access(
        client.id, scopes=scope_text(granted), rate_limit=client.rate_limit
    )


def client_bearer(
    app: FastAPI, client: ApiClient, scopes: Iterable[Scope] | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {client_token(app, client, scopes)}"}


CLIENTS = "/api/v1/clients"
TOKEN = "/api/v1/auth/token"


async def created_client(
    http: httpx.AsyncClient,
    admin_headers: dict[str, str],
    *,
    scopes: Iterable[str] = ("catalog:read", "stock:read"),
    name: str = "Shop",
    **body: object,
) -> dict[str, Any]:
    """A client created through the API, as its 201 answer shows it (with the secret)."""
    response = await http.post(
        CLIENTS, json={"name": name, "scopes": list(scopes), **body}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic as RFC 6749 §2.3.1 says: each part form-urlencoded, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


async def client_credentials(
    http: httpx.AsyncClient, created: dict[str, Any], **form: str
) -> httpx.Response:
    """A client credentials token request with HTTP Basic."""
    return await http.post(
        TOKEN,
        data={"grant_type": "client_credentials", **form},
        headers=basic(created["client_id"], created["client_secret"]),
    )
