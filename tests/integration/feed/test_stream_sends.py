"""What a stream costs the server per event: events read together go out in one ASGI
message per stream, of frames encoded once for every stream of that kind; a burst of
commits is one read (SSE_COALESCE_MS); a stream with nothing to send sends nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message, Receive, Scope, Send

from src.core.event_types import FEED_CHANNEL, EventType
from src.main import create_app
from src.models.user import Role
from tests.support.factories import CommittedLogin, Headers
from tests.support.feed import append, log_reads
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import FEED_STREAM, SseReader, sse


class CountingSends:
    """The app, with every stream response's body messages kept (heartbeats left out)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.bodies: list[list[bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != FEED_STREAM:
            await self.app(scope, receive, send)
            return
        bodies: list[bytes] = []
        self.bodies.append(bodies)

        async def counting(message: Message) -> None:
            body = message.get("body", b"")
            if message["type"] == "http.response.body" and body and not body.startswith(b":"):
                bodies.append(body)
            await send(message)

        await self.app(scope, receive, counting)

    def carrying(self, tag: str) -> list[list[bytes]]:
        """Per stream, its messages that carry events tagged `tag`."""
        return [[body for body in bodies if tag.encode() in body] for bodies in self.bodies]


async def _commit(engine: AsyncEngine, *names: str) -> None:
    """One committed transaction appending a `product.updated` per name, with the NOTIFY a
    unit of work sends."""
    async with engine.begin() as connection:
        for name in names:
            await append(connection, EventType.PRODUCT_UPDATED, {"name": name})
        await connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": FEED_CHANNEL})


def _names(reader_events: list[dict[str, Any]]) -> list[str]:
    return [event["data"]["data"]["name"] for event in reader_events]


@contextlib.asynccontextmanager
async def _streams(
    app: FastAPI, headers: Headers, count: int, engine: AsyncEngine, **params: str
) -> AsyncIterator[tuple[CountingSends, list[SseReader]]]:
    """`count` feed streams on `app`, each past a first event (caught up, following the
    reader)."""
    counting = CountingSends(app)
    async with running(counting) as base, contextlib.AsyncExitStack() as stack:
        readers = [
            await stack.enter_async_context(sse(base, FEED_STREAM, headers, **params))
            for _ in range(count)
        ]
        if not params:
            warm = f"warm-{uuid.uuid4().hex}"
            await _commit(engine, warm)
            for reader in readers:
                await reader.first(lambda event: event["data"]["data"].get("name") == warm)
        yield counting, readers


@pytest.fixture
async def viewer(committed_login: CommittedLogin) -> Headers:
    return await committed_login(Role.VIEWER)


async def test_events_read_together_go_to_each_stream_in_one_message_encoded_once(
    committed_database_url: str, committed_engine: AsyncEngine, viewer: Headers, tmp_path: Path
) -> None:
    app = create_app(make_settings(committed_database_url, tmp_path, sse_coalesce_ms=0))
    tag = uuid.uuid4().hex
    names = [f"{tag}-{n}" for n in range(6)]
    async with _streams(app, viewer, 3, committed_engine) as (counting, readers):
        await _commit(committed_engine, *names)
        for reader in readers:
            got = await reader.collect(6, lambda event: tag in json.dumps(event["data"]))
            assert _names(got) == names  # all of them, once, in order
        sent = counting.carrying(tag)
        # One message per stream for the six events (one per event before), the very
        # same bytes for every stream: the frames were encoded once.
        assert [len(messages) for messages in sent] == [1, 1, 1]
        assert sent[0][0].count(b"\r\n\r\n") == 6
        assert sent[0] == sent[1] == sent[2]


@pytest.mark.slow
async def test_a_burst_of_commits_is_one_read_and_one_message_per_stream(
    committed_database_url: str, committed_engine: AsyncEngine, viewer: Headers, tmp_path: Path
) -> None:
    # A long window, so a slow machine still commits the whole burst within it.
    app = create_app(make_settings(committed_database_url, tmp_path, sse_coalesce_ms=1000))
    tag = uuid.uuid4().hex
    names = [f"{tag}-{n}" for n in range(4)]
    async with _streams(app, viewer, 2, committed_engine) as (counting, readers):
        with log_reads(app) as reads:
            for name in names:  # four transactions, four NOTIFYs
                await _commit(committed_engine, name)
            for reader in readers:
                got = await reader.collect(4, lambda event: tag in json.dumps(event["data"]))
                assert _names(got) == names
        # One read for the burst (one per commit before); the visibility check may wake the
        # reader once more, with nothing left to read.
        assert 1 <= len(reads) <= 2, reads
        assert [len(messages) for messages in counting.carrying(tag)] == [1, 1]


async def test_a_typed_stream_sends_nothing_for_a_read_it_has_no_event_of(
    committed_database_url: str, committed_engine: AsyncEngine, viewer: Headers, tmp_path: Path
) -> None:
    app = create_app(make_settings(committed_database_url, tmp_path, sse_coalesce_ms=0))
    tag = uuid.uuid4().hex
    async with _streams(app, viewer, 1, committed_engine, types="location.created") as (
        counting,
        (typed,),
    ):
        await _commit(committed_engine, *(f"{tag}-{n}" for n in range(3)))
        await asyncio.sleep(0.5)  # read and fanned out by now, with the reader's wake-ups
        location = f"{tag}-location"
        async with committed_engine.begin() as connection:
            await append(connection, EventType.LOCATION_CREATED, {"name": location})
            await connection.execute(text("SELECT pg_notify(:c, '')"), {"c": FEED_CHANNEL})
        event = await typed.next()
        assert event["event"] == "location.created"
        assert event["data"]["data"]["name"] == location
        # Not an empty message for the product events, nor them: only the location's.
        (messages,) = counting.bodies
        assert [tag.encode() in body for body in messages] == [True]
        assert b"product.updated" not in messages[0]


async def test_a_lagging_stream_catches_up_in_pages_with_nothing_lost_or_repeated(
    committed_database_url: str, committed_engine: AsyncEngine, viewer: Headers, tmp_path: Path
) -> None:
    """A stream that resumes far behind sends its catch-up a page per message, in order."""
    app = create_app(make_settings(committed_database_url, tmp_path, sse_coalesce_ms=0))
    tag = uuid.uuid4().hex
    names = [f"{tag}-{n}" for n in range(250)]
    async with _streams(app, viewer, 1, committed_engine) as (counting, (reader,)):
        first = await _first_id(reader, committed_engine, f"start-{uuid.uuid4().hex}")
        await _commit(committed_engine, *names)
        await reader.collect(250, lambda event: tag in json.dumps(event["data"]))
    app = create_app(make_settings(committed_database_url, tmp_path / "2", sse_coalesce_ms=0))
    async with _streams(app, viewer, 1, committed_engine, after=first) as (again, (resumed,)):
        got = await resumed.collect(250, lambda event: tag in json.dumps(event["data"]))
        assert _names(got) == names
        # 100 events a page: three messages, not 250.
        assert len(again.carrying(tag)[0]) == 3
    assert len(counting.carrying(tag)[0]) <= 3


async def _first_id(reader: SseReader, engine: AsyncEngine, name: str) -> str:
    await _commit(engine, name)
    event = await reader.first(lambda e: e["data"]["data"].get("name") == name)
    event_id: str = event["id"]
    return event_id


def test_the_coalescing_setting_is_bounded(committed_database_url: str, tmp_path: Path) -> None:
    assert make_settings(committed_database_url, tmp_path).feed.sse_coalesce_ms == 20
    assert (
        make_settings(committed_database_url, tmp_path, sse_coalesce_ms=0).feed.sse_coalesce_ms == 0
    )
    for bad in (-1, 1001):
        with pytest.raises(ValidationError):
            make_settings(committed_database_url, tmp_path, sse_coalesce_ms=bad)
