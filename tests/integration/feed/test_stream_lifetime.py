"""An open event stream lasts no longer than the credential that opened it: it ends when its
user is deactivated or changes password, when its session ends (logout, refresh-token reuse)
and when the access token behind it expires; a stream whose access holds keeps streaming."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from src.main import create_app
from src.models.user import Role, User
from tests.support.factories import (
    DEFAULT_PASSWORD,
    MakeUser,
    bearer,
    refresh_grant,
    token_pair,
)
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import STOCK_STREAM, sse
from tests.support.stock import new_location, new_product, receive

Tokens = dict[str, Any]
RECHECK = 0.2
# A cause must end the stream within the re-check period; this allows for slow machines.
ENDS_WITHIN = 5.0


@pytest.fixture
def app(committed_database_url: str, tmp_path: Path) -> FastAPI:
    return create_app(
        make_settings(
            committed_database_url,
            tmp_path,
            stream_auth_recheck_seconds=RECHECK,
            refresh_reuse_grace_seconds=0,
        )
    )


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    async with running(app) as base:
        yield base


@pytest.fixture
async def stock(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> dict[str, Any]:
    manager = await committed_make_user(role=Role.MANAGER)
    headers = bearer((await token_pair(committed_client, manager.email))["access_token"])
    return {
        "headers": headers,
        "product": await new_product(committed_client, headers),
        "location": await new_location(committed_client, headers),
    }


@pytest.fixture
async def viewer(committed_make_user: MakeUser) -> User:
    return await committed_make_user(role=Role.VIEWER)


@pytest.fixture
async def tokens(committed_client: httpx.AsyncClient, viewer: User) -> Tokens:
    """The viewer's first session."""
    return await token_pair(committed_client, viewer.email)


async def post(client: httpx.AsyncClient, stock: dict[str, Any]) -> str:
    movement = await receive(client, stock["headers"], stock["product"], stock["location"], 1)
    return str(movement["id"])


async def test_a_live_stream_keeps_streaming_across_rechecks(
    server: str,
    committed_client: httpx.AsyncClient,
    tokens: Tokens,
    stock: dict[str, Any],
) -> None:
    async with sse(server, STOCK_STREAM, bearer(tokens["access_token"])) as stream:
        await asyncio.sleep(RECHECK * 6)  # several re-checks pass
        first = await post(committed_client, stock)
        await stream.until_id(first)
        await asyncio.sleep(RECHECK * 3)
        second = await post(committed_client, stock)
        await stream.until_id(second)


async def test_logout_ends_the_stream(
    server: str,
    committed_client: httpx.AsyncClient,
    viewer: User,
    tokens: Tokens,
    stock: dict[str, Any],
) -> None:
    other = await token_pair(committed_client, viewer.email)  # another session lives on
    async with (
        sse(server, STOCK_STREAM, bearer(tokens["access_token"])) as ended,
        sse(server, STOCK_STREAM, bearer(other["access_token"])) as kept,
    ):
        movement = await post(committed_client, stock)
        await ended.until_id(movement)
        await kept.until_id(movement)
        out = await committed_client.post(
            "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert out.status_code == 204
        assert await ended.ends() < ENDS_WITHIN
        after = await post(committed_client, stock)
        await kept.until_id(after)  # only the session that logged out lost its stream


async def test_deactivating_the_user_ends_the_stream(
    server: str,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    viewer: User,
    tokens: Tokens,
) -> None:
    admin = await committed_make_user(role=Role.ADMIN)
    admin_headers = bearer((await token_pair(committed_client, admin.email))["access_token"])
    async with sse(server, STOCK_STREAM, bearer(tokens["access_token"])) as stream:
        answer = await committed_client.patch(
            f"/api/v1/users/{viewer.id}", json={"is_active": False}, headers=admin_headers
        )
        assert answer.status_code == 200, answer.text
        await stream.ends()
    async with httpx.AsyncClient(base_url=server) as client:
        again = await client.get(STOCK_STREAM, headers=bearer(tokens["access_token"]))
    assert again.status_code == 401


async def test_a_password_change_ends_the_stream(
    server: str, committed_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    async with sse(server, STOCK_STREAM, bearer(tokens["access_token"])) as stream:
        changed = await committed_client.post(
            "/api/v1/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "An0ther sturdy phrase!"},
            headers=bearer(tokens["access_token"]),
        )
        assert changed.status_code == 204, changed.text
        await stream.ends()


async def test_refresh_token_reuse_ends_the_stream(
    server: str, committed_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    async with (
        sse(server, STOCK_STREAM, bearer(tokens["access_token"])) as stream,
        httpx.AsyncClient(base_url=server) as client,  # the app without a grace window
    ):
        assert (await refresh_grant(client, tokens["refresh_token"])).status_code == 200
        # The same refresh token again: a replay; the session ends.
        replay = await refresh_grant(client, tokens["refresh_token"])
        assert replay.json()["error"] == "invalid_grant"
        await stream.ends()


def _expiring_token(app: FastAPI, user: User, access_token: str, seconds: float) -> str:
    """An access token of the same session that expires in `seconds`."""
    sid = uuid.UUID(jwt.decode(access_token, options={"verify_signature": False})["sid"])
    ttl = app.state.tokens.ttl_seconds
    issued = datetime.now(UTC) - timedelta(seconds=ttl - seconds)
    token: str = app.state.tokens.issue_access(user.id, session=sid, now=issued)
    return token


async def test_the_stream_ends_when_its_access_token_expires(
    app: FastAPI,
    server: str,
    committed_client: httpx.AsyncClient,
    viewer: User,
    tokens: Tokens,
    stock: dict[str, Any],
) -> None:
    short = _expiring_token(app, viewer, tokens["access_token"], 2)
    async with sse(server, STOCK_STREAM, bearer(short)) as stream:
        movement = await post(committed_client, stock)
        await stream.until_id(movement)  # streaming normally until then
        assert await stream.ends() < ENDS_WITHIN


@pytest.mark.slow
async def test_a_ticket_stream_ends_when_the_minting_token_expires(
    app: FastAPI,
    server: str,
    committed_client: httpx.AsyncClient,
    viewer: User,
    tokens: Tokens,
) -> None:
    """Not when the ticket does (it expires first), but when the access token would."""
    short = _expiring_token(app, viewer, tokens["access_token"], 3)
    minted = await committed_client.post("/api/v1/auth/stream-tickets", headers=bearer(short))
    assert minted.status_code == 201
    assert minted.json()["expires_in"] <= 3
    async with sse(server, STOCK_STREAM, {}, ticket=minted.json()["ticket"]) as stream:
        assert await stream.ends() < ENDS_WITHIN
    # ...and the long-lived token's stream of the same user is unaffected.
    async with sse(server, STOCK_STREAM, bearer(tokens["access_token"])) as stream:
        with pytest.raises(AssertionError, match="still open"):
            await stream.ends(within=RECHECK * 5)


async def test_a_ticket_stream_ends_at_logout(
    server: str,
    committed_client: httpx.AsyncClient,
    tokens: Tokens,
    stock: dict[str, Any],
) -> None:
    minted = await committed_client.post(
        "/api/v1/auth/stream-tickets", headers=bearer(tokens["access_token"])
    )
    ticket = minted.json()["ticket"]
    async with sse(server, STOCK_STREAM, {}, ticket=ticket) as stream:
        movement = await post(committed_client, stock)
        await stream.until_id(movement)
        await committed_client.post(
            "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        await stream.ends()
    async with httpx.AsyncClient(base_url=server) as client:
        refused = await client.get(STOCK_STREAM, params={"ticket": ticket})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
