"""API clients on the event streams: `events:read` opens both streams, by Bearer token or by a
stream ticket the client mints; without it the streams and tickets are refused
(insufficient-scope); and an open stream ends within STREAM_AUTH_RECHECK_SECONDS once its
client is deactivated or revoked, or loses a scope its token holds (the clients' own
endpoints are tested elsewhere: here the row is changed directly)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.scopes import CLIENT_SCOPES, Scope
from src.main import create_app
from src.models.api_client import ApiClient
from src.models.user import Role
from tests.support.clients import MakeApiClient, client_bearer, create_api_client
from tests.support.factories import CommittedLogin, Headers
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import FEED_STREAM, STOCK_STREAM, SseReader, sse
from tests.support.stock import new_location, new_product, receive

TICKETS = "/api/v1/auth/stream-tickets"
STREAMS = [STOCK_STREAM, FEED_STREAM]
RECHECK = 0.2
# A cause must end the stream within the re-check period; this allows for slow machines.
ENDS_WITHIN = 5.0
# What ends a client's streams, as the row changes (the clients' endpoints make these changes).
ENDINGS = {
    "deactivated": "UPDATE api_clients SET is_active = false WHERE id = :id",
    "revoked": "UPDATE api_clients SET revoked_at = now() WHERE id = :id",
    "scope removed": "UPDATE api_clients SET scopes = array_remove(scopes, 'events:read')"
    " WHERE id = :id",
}


@pytest.fixture
def app(committed_database_url: str, tmp_path: Path) -> FastAPI:
    return create_app(
        make_settings(committed_database_url, tmp_path, stream_auth_recheck_seconds=RECHECK)
    )


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    async with running(app) as base:
        yield base


@pytest.fixture
async def make_client(committed_engine: AsyncEngine) -> AsyncIterator[MakeApiClient]:
    """Like make_api_client, but committed (the server's own sessions see it)."""
    async with committed_engine.connect() as connection:

        async def factory(**kwargs: Any) -> ApiClient:
            made = await create_api_client(connection, **kwargs)
            await connection.commit()
            return made

        yield factory


@pytest.fixture
async def manager(committed_login: CommittedLogin) -> Headers:
    return await committed_login(Role.MANAGER)


async def change(engine: AsyncEngine, statement: str, client: ApiClient) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(statement), {"id": client.id})


async def mint(client: httpx.AsyncClient, headers: Headers) -> str:
    response = await client.post(TICKETS, headers=headers)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def movement_arrives(
    committed_client: httpx.AsyncClient, manager: Headers, *streams: tuple[str, SseReader]
) -> None:
    """A movement posted now reaches every stream given, as that stream frames it."""
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    movement = await receive(committed_client, manager, product, location, 2)
    for path, stream in streams:
        if path == STOCK_STREAM:
            seen = await stream.first(lambda e: e["data"]["id"] == movement["id"])
            assert seen["data"] == movement
        else:
            seen = await stream.first(
                lambda e: (
                    e["event"] == "movement.created" and e["data"]["data"]["id"] == movement["id"]
                )
            )
            assert seen["data"]["data"] == movement


async def test_a_client_with_events_read_streams_by_token_and_by_ticket(
    app: FastAPI,
    server: str,
    committed_client: httpx.AsyncClient,
    make_client: MakeApiClient,
    manager: Headers,
) -> None:
    dashboard = await make_client(scopes=[Scope.EVENTS_READ])
    headers = client_bearer(app, dashboard)
    ticket = await mint(committed_client, headers)
    async with (
        sse(server, STOCK_STREAM, headers) as stock_by_token,
        sse(server, FEED_STREAM, headers) as feed_by_token,
        sse(server, STOCK_STREAM, {}, ticket=ticket) as stock_by_ticket,
        sse(server, FEED_STREAM, {}, ticket=ticket) as feed_by_ticket,
    ):
        await movement_arrives(
            committed_client,
            manager,
            (STOCK_STREAM, stock_by_token),
            (FEED_STREAM, feed_by_token),
            (STOCK_STREAM, stock_by_ticket),
            (FEED_STREAM, feed_by_ticket),
        )


def assert_insufficient_scope(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "/problems/insufficient-scope"
    assert response.json()["required_scope"] == "events:read"
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="events:read"'
    )


async def test_a_client_without_events_read_gets_no_stream_and_no_ticket(
    app: FastAPI,
    server: str,
    committed_client: httpx.AsyncClient,
    make_client: MakeApiClient,
) -> None:
    erp = await make_client(scopes=CLIENT_SCOPES - {Scope.EVENTS_READ})
    holder = await make_client(scopes=CLIENT_SCOPES)
    # The client lacks it, or its token was narrowed to leave it out.
    for headers in (client_bearer(app, erp), client_bearer(app, holder, [Scope.STOCK_READ])):
        assert_insufficient_scope(await committed_client.post(TICKETS, headers=headers))
        async with httpx.AsyncClient(base_url=server) as client:
            for stream in STREAMS:
                assert_insufficient_scope(await client.get(stream, headers=headers))
    # The client that holds it streams (sse() checks the 200), across re-checks.
    async with sse(server, STOCK_STREAM, client_bearer(app, holder)) as stream:
        with pytest.raises(AssertionError, match="still open"):
            await stream.ends(within=RECHECK * 3)


@pytest.mark.parametrize("by", ["token", "ticket"])
@pytest.mark.parametrize("ending", sorted(ENDINGS))
async def test_a_change_to_the_client_ends_its_open_streams(
    app: FastAPI,
    server: str,
    committed_client: httpx.AsyncClient,
    committed_engine: AsyncEngine,
    make_client: MakeApiClient,
    manager: Headers,
    ending: str,
    by: str,
) -> None:
    dashboard = await make_client(scopes=[Scope.EVENTS_READ, Scope.CATALOG_READ])
    headers = client_bearer(app, dashboard)
    sent, params = (
        (headers, {}) if by == "token" else ({}, {"ticket": await mint(committed_client, headers)})
    )
    async with (
        sse(server, STOCK_STREAM, sent, **params) as stock,
        sse(server, FEED_STREAM, sent, **params) as feed,
    ):
        await movement_arrives(
            committed_client, manager, (STOCK_STREAM, stock), (FEED_STREAM, feed)
        )
        await change(committed_engine, ENDINGS[ending], dashboard)
        assert await stock.ends() < ENDS_WITHIN
        assert await feed.ends() < ENDS_WITHIN
    # Nor does the credential open a stream again.
    async with httpx.AsyncClient(base_url=server) as client:
        again = await client.get(STOCK_STREAM, headers=sent, params=params)
    assert again.status_code == 401, again.text


async def test_a_stream_whose_token_never_held_the_scope_removed_lives_on(
    app: FastAPI,
    server: str,
    committed_client: httpx.AsyncClient,
    committed_engine: AsyncEngine,
    make_client: MakeApiClient,
    manager: Headers,
) -> None:
    dashboard = await make_client(scopes=[Scope.EVENTS_READ, Scope.CATALOG_READ])
    narrowed = client_bearer(app, dashboard, [Scope.EVENTS_READ])
    async with (
        sse(server, STOCK_STREAM, client_bearer(app, dashboard)) as full,
        sse(server, STOCK_STREAM, narrowed) as kept,
    ):
        await change(
            committed_engine,
            "UPDATE api_clients SET scopes = '{events:read}' WHERE id = :id",
            dashboard,
        )
        assert await full.ends() < ENDS_WITHIN  # its token held catalog:read
        await asyncio.sleep(RECHECK * 3)  # more re-checks pass
        await movement_arrives(committed_client, manager, (STOCK_STREAM, kept))
        # Last: a reader that timed out waiting for the end reads no more.
        with pytest.raises(AssertionError, match="still open"):
            await kept.ends(within=RECHECK * 3)
