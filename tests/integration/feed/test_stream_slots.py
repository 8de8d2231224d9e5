"""A user's event-stream slots (SSE_MAX_STREAMS_PER_USER) come back whenever a stream ends,
including streams that never started: clients gone before the first byte, responses the
server never got to send."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Message, Scope

from src.main import create_app
from src.models.user import Role
from tests.support.factories import CommittedLogin, Headers
from tests.support.servers import running
from tests.support.settings import make_settings

EVENTS = "/api/v1/stock/events"


@pytest.fixture
async def clerk_headers(committed_login: CommittedLogin) -> Headers:
    return await committed_login(Role.CLERK)


@pytest.fixture
def capped(committed_database_url: str, tmp_path: Path) -> FastAPI:
    return create_app(make_settings(committed_database_url, tmp_path, sse_max_streams_per_user=1))


async def _opens(base: str, headers: Headers) -> int:
    """Open a stream and close it at once; its status (200, or 429 when no slot is left)."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", EVENTS, headers=headers) as response,
    ):
        return response.status_code


async def _eventually_opens(base: str, headers: Headers) -> bool:
    """The abandoned requests may still be in flight: give them a moment to end."""
    for _ in range(50):
        if await _opens(base, headers) == 200:
            return True
        await asyncio.sleep(0.1)
    return False


async def _released(app: FastAPI) -> bool:
    for _ in range(100):
        if not app.state.broker._per_user:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_clients_gone_before_the_first_byte_hold_no_slot(
    capped: FastAPI, clerk_headers: Headers
) -> None:
    async with running(capped) as base:
        address = urlsplit(base)
        request = (
            f"GET {EVENTS} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Authorization: {clerk_headers['Authorization']}\r\n\r\n"
        ).encode()
        for _ in range(3):
            _reader, writer = await asyncio.open_connection(address.hostname, address.port)
            writer.write(request)
            await writer.drain()
            writer.close()  # gone before the server answered
            await writer.wait_closed()
        assert await _eventually_opens(base, clerk_headers)
        # The cap itself still holds.
        async with (
            httpx.AsyncClient(base_url=base, timeout=10) as client,
            client.stream("GET", EVENTS, headers=clerk_headers) as held,
        ):
            assert held.status_code == 200
            assert (await client.get(EVENTS, headers=clerk_headers)).status_code == 429


def _scope(headers: Headers) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": EVENTS,
        "raw_path": EVENTS.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t"), (b"authorization", headers["Authorization"].encode())],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
        "state": {},
    }


async def test_a_response_that_never_starts_holds_no_slot(
    capped: FastAPI, clerk_headers: Headers
) -> None:
    """The server fails to send the response's first message (its connection broke)."""

    async def receive() -> Message:
        await asyncio.sleep(3600)  # the request has no body; the client never leaves
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            raise ConnectionResetError("the connection broke")

    async with LifespanManager(capped):
        for _ in range(2):
            with pytest.raises(ConnectionResetError):
                await capped(_scope(clerk_headers), receive, send)
        assert await _released(capped)


async def test_a_client_gone_while_the_first_byte_is_sent_holds_no_slot(
    capped: FastAPI, clerk_headers: Headers
) -> None:
    """The disconnect arrives while the response's first message is still being written."""

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(0.2)  # a slow socket

    async with LifespanManager(capped):
        for _ in range(2):
            await capped(_scope(clerk_headers), receive, send)
        assert await _released(capped)


async def test_streams_answer_503_while_the_database_cannot_be_listened_to(
    committed_database_url: str, tmp_path: Path, clerk_headers: Headers
) -> None:
    app = create_app(
        make_settings(
            committed_database_url,
            tmp_path,
            sse_max_streams_per_user=1,
            database_listen_url="postgresql://root@127.0.0.1:1/none",
        )
    )
    async with LifespanManager(app):
        app.state.broker.listen_timeout = 0.2
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            for _ in range(2):  # the failed wait gave its slot back: 503 again, not 429
                response = await client.get(EVENTS, headers=clerk_headers)
                assert response.status_code == 503
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["type"] == "/problems/service-unavailable"
        assert await _released(app)
