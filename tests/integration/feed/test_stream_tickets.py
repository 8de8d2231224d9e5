"""POST /auth/stream-tickets and `?ticket=`: a ticket opens event streams as its user, for a
short while, and nothing else; an access token is no ticket; tickets never reach the logs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from src.main import create_app
from src.models.user import Role, User
from tests.support.apps import client_beside
from tests.support.factories import Headers, MakeUser, bearer, token_pair
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import FEED_STREAM, sse
from tests.support.stock import new_location, new_product, receive

TICKETS = "/api/v1/auth/stream-tickets"
EVENTS = "/api/v1/stock/events"
# Every Server-Sent-Events endpoint of the service: a ticket opens each of them.
STREAMS = [EVENTS, FEED_STREAM]
ME = "/api/v1/users/me"


async def mint(client: httpx.AsyncClient, headers: Headers) -> str:
    response = await client.post(TICKETS, headers=headers)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


# ---------------------------------------------------------------- minting


async def test_a_ticket_is_created_without_a_location(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.post(TICKETS, headers=viewer_headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"ticket", "expires_in"}
    assert 59 <= body["expires_in"] <= 60  # STREAM_TICKET_TTL_SECONDS
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    # Each call mints another ticket.
    assert await mint(client, viewer_headers) != body["ticket"]


async def test_a_ticket_never_outlives_the_access_token(
    app: FastAPI, database_url: str, tmp_path: Path, viewer: User
) -> None:
    settings = make_settings(
        database_url, tmp_path, access_token_ttl_seconds=30, stream_ticket_ttl_seconds=3600
    )
    async with client_beside(app, settings) as other:
        headers = bearer((await token_pair(other, viewer.email))["access_token"])
        response = await other.post(TICKETS, headers=headers)
    assert response.status_code == 201
    assert 0 <= response.json()["expires_in"] <= 30


async def test_minting_needs_an_access_token(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    assert_unauthorized(await client.post(TICKETS))
    ticket = await mint(client, viewer_headers)
    assert_unauthorized(await client.post(TICKETS, headers=bearer(ticket)))  # no ticket chains
    assert_unauthorized(await client.post(TICKETS, params={"ticket": ticket}))


# ---------------------------------------------------------------- refused everywhere else


async def test_a_ticket_as_bearer_token_is_refused(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    ticket = await mint(client, viewer_headers)
    for path in (ME, "/api/v1/products", EVENTS):
        assert_unauthorized(await client.get(path, headers=bearer(ticket)))


@pytest.mark.parametrize("name", ["ticket", "tick%65t"])
async def test_a_ticket_in_the_query_of_another_endpoint_is_refused(
    client: httpx.AsyncClient, viewer_headers: Headers, name: str
) -> None:
    ticket = await mint(client, viewer_headers)
    alone = await client.get(f"{ME}?{name}={ticket}")
    assert_unauthorized(alone)
    assert "only opens event streams" in alone.json()["detail"]
    assert ticket not in alone.text
    # Beside a valid access token too, and on lists (which 422 other unknown parameters).
    assert_unauthorized(await client.get(ME, params={"ticket": ticket}, headers=viewer_headers))
    assert_unauthorized(
        await client.get("/api/v1/products", params={"ticket": ticket}, headers=viewer_headers)
    )
    # The same request without it works.
    assert (await client.get(ME, headers=viewer_headers)).status_code == 200


# ---------------------------------------------------------------- on the stream


@pytest.mark.parametrize("stream", STREAMS)
async def test_bad_credentials_on_the_stream_are_401(
    app: FastAPI, client: httpx.AsyncClient, viewer: User, viewer_headers: Headers, stream: str
) -> None:
    assert_unauthorized(await client.get(stream))
    access_token = viewer_headers["Authorization"].removeprefix("Bearer ")
    assert_unauthorized(await client.get(stream, params={"ticket": access_token}))
    assert_unauthorized(await client.get(stream, params={"ticket": "not-a-ticket"}))
    sid = uuid.UUID(jwt.decode(access_token, options={"verify_signature": False})["sid"])
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    expired, _ = app.state.tokens.issue_stream_ticket(
        viewer.id,
        session=sid,
        access_issued_at=long_ago,
        access_expires_at=datetime.now(UTC) + timedelta(minutes=5),
        ttl_seconds=60,
        now=long_ago,
    )
    refused = await client.get(stream, params={"ticket": expired})
    assert_unauthorized(refused)
    assert refused.json()["detail"] == "The stream ticket is invalid or expired; get a new one"


def ticket_expiring(app: FastAPI, user: User, access_token: str, seconds_from_now: float) -> str:
    sid = uuid.UUID(jwt.decode(access_token, options={"verify_signature": False})["sid"])
    now = datetime.now(UTC)
    ticket, _ = app.state.tokens.issue_stream_ticket(
        user.id,
        session=sid,
        access_issued_at=now - timedelta(seconds=60),
        access_expires_at=now + timedelta(minutes=5),
        ttl_seconds=60,
        now=now + timedelta(seconds=seconds_from_now - 60),
    )
    ticket_value: str = ticket
    return ticket_value


@pytest.mark.parametrize("stream", STREAMS)
async def test_a_ticket_gets_no_leeway_past_expires_in(
    app: FastAPI, client: httpx.AsyncClient, viewer: User, viewer_headers: Headers, stream: str
) -> None:
    access_token = viewer_headers["Authorization"].removeprefix("Bearer ")
    # Expired 2 s ago: inside the access tokens' leeway, which tickets do not get.
    refused = await client.get(
        stream, params={"ticket": ticket_expiring(app, viewer, access_token, -2)}
    )
    assert_unauthorized(refused)
    assert refused.json()["detail"] == "The stream ticket is invalid or expired; get a new one"
    # So is one a second past it.
    late = ticket_expiring(app, viewer, access_token, -1)
    assert_unauthorized(await client.get(stream, params={"ticket": late}))


async def test_a_ticket_after_logout_is_refused(client: httpx.AsyncClient, viewer: User) -> None:
    tokens = await token_pair(client, viewer.email)
    ticket = await mint(client, bearer(tokens["access_token"]))
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    refused = await client.get(EVENTS, params={"ticket": ticket})
    assert_unauthorized(refused)
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_ticket_of_a_deactivated_user_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers, viewer: User, viewer_headers: Headers
) -> None:
    ticket = await mint(client, viewer_headers)
    answer = await client.patch(
        f"/api/v1/users/{viewer.id}", json={"is_active": False}, headers=admin_headers
    )
    assert answer.status_code == 200
    assert_unauthorized(await client.get(EVENTS, params={"ticket": ticket}))


@contextlib.asynccontextmanager
async def stream_status(base: str, **params: str) -> AsyncIterator[httpx.Response]:
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", EVENTS, params=params) as response,
    ):
        yield response


@pytest.fixture
def served_app(committed_database_url: str, tmp_path: Path) -> FastAPI:
    # Built before the test runs: building an app configures logging, which would drop
    # caplog's handler.
    return create_app(make_settings(committed_database_url, tmp_path))


async def test_a_ticket_opens_the_stream_again_and_again(
    served_app: FastAPI,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await committed_make_user(role=Role.VIEWER)
    headers = bearer((await token_pair(committed_client, user.email))["access_token"])
    ticket = await mint(committed_client, headers)
    caplog.clear()
    async with running(served_app) as base:
        for _ in range(3):  # reusable within its lifetime: EventSource reconnects with it
            async with stream_status(base, ticket=ticket) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
    streams = [line for line in access_lines(caplog) if line["route"] == EVENTS]
    assert [line["query"] for line in streams] == ["ticket=[redacted]"] * 3
    assert all(ticket not in message for message in server_messages(caplog))


async def test_one_ticket_opens_both_streams(
    served_app: FastAPI, committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    manager = await committed_make_user(role=Role.MANAGER)
    headers = bearer((await token_pair(committed_client, manager.email))["access_token"])
    ticket = await mint(committed_client, headers)
    async with (
        running(served_app) as base,
        sse(base, EVENTS, {}, ticket=ticket) as movements,
        sse(base, FEED_STREAM, {}, ticket=ticket) as feed,
    ):
        product = await new_product(committed_client, headers)
        location = await new_location(committed_client, headers)
        movement = await receive(committed_client, headers, product, location, 3)
        on_stock = await movements.first(lambda e: e["data"]["id"] == movement["id"])
        on_feed = await feed.first(
            lambda e: e["event"] == "movement.created" and e["data"]["data"]["id"] == movement["id"]
        )
    # Each stream, opened by the same ticket, delivered the movement as that user sees it.
    assert on_stock["event"] == "movement"
    assert on_stock["data"] == movement
    assert on_feed["data"]["data"] == movement


def server_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every line the server logged (httpx, the test's client, logs its own URLs)."""
    return [str(r.msg) for r in caplog.records if r.name != "httpx"]


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        r.msg for r in caplog.records if r.name == "stockroom.access" and isinstance(r.msg, dict)
    ]


# ---------------------------------------------------------------- never logged


async def test_the_access_log_redacts_the_ticket(
    client: httpx.AsyncClient, viewer_headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = await mint(client, viewer_headers)
    caplog.clear()
    await client.get(ME, params={"x": "1", "ticket": ticket})
    await client.get(f"{ME}?tick%65t={ticket}&other=2")
    await client.get(ME, headers=viewer_headers)
    lines = access_lines(caplog)
    assert [line.get("query") for line in lines] == [
        "x=1&ticket=[redacted]",
        "tick%65t=[redacted]&other=2",
        None,  # no query, no field
    ]
    assert [line["status"] for line in lines] == [401, 401, 200]
    assert all(ticket not in message for message in server_messages(caplog))
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert ticket not in metrics.text
