"""GET /stock/events: live movements across instances, resumption, caps and cleanup."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.main import create_app
from tests.support.factories import Headers
from tests.support.servers import running, served
from tests.support.settings import TEST_SECRET_KEY, make_settings
from tests.support.sse import STOCK_STREAM, sse
from tests.support.stock import new_location, new_product, post_movement, receive


def about(product_id: str) -> Callable[[dict[str, Any]], bool]:
    """Movements of this product (other tests share the database)."""
    return lambda event: event["data"]["product_id"] == product_id


def _app(url: str, tmp_path: Path, name: str, **settings: object) -> FastAPI:
    return create_app(make_settings(url, tmp_path / name, **settings))


async def test_both_instances_see_a_movement_posted_through_a_third(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    clerk, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    async with (
        running(_app(committed_database_url, tmp_path, "a")) as a,
        running(_app(committed_database_url, tmp_path, "b")) as b,
        sse(a, STOCK_STREAM, clerk) as on_a,
        sse(b, STOCK_STREAM, clerk) as on_b,
    ):
        # posted through a third app instance (the committed client's)
        movement = await receive(committed_client, clerk, product, location, 3)
        for reader in (on_a, on_b):
            event = await reader.until_id(movement["id"])
            assert event["event"] == "movement"
            assert event["data"] == movement


@pytest.mark.server
@pytest.mark.slow
async def test_server_processes_share_movements_and_resume_without_gaps(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    """Two `stockroom serve` processes, a posting through a third app; then a client of one
    reconnects with Last-Event-ID and gets exactly what it missed, then live events."""
    clerk, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    async with (
        served(committed_database_url, tmp_path / "a", TEST_SECRET_KEY) as a,
        served(committed_database_url, tmp_path / "b", TEST_SECRET_KEY) as b,
        sse(a.base, STOCK_STREAM, clerk) as on_a,
    ):
        async with sse(b.base, STOCK_STREAM, clerk) as on_b:
            first = await receive(committed_client, clerk, product, location, 3)
            for reader in (on_a, on_b):
                assert (await reader.until_id(first["id"]))["data"] == first
        # b's client is gone; two movements pass while it is away.
        missed = [await receive(committed_client, clerk, product, location, 1)]
        missed.append(await receive(committed_client, clerk, product, location, 1))
        async with sse(b.base, STOCK_STREAM, {**clerk, "Last-Event-ID": first["id"]}) as again:
            replayed = [(await again.first(about(product["id"])))["id"] for _ in missed]
            assert replayed == [m["id"] for m in missed]
            live = await receive(committed_client, clerk, product, location, 1)
            assert (await again.first(about(product["id"])))["id"] == live["id"]
        for movement in [*missed, live]:
            assert (await on_a.first(about(product["id"])))["id"] == movement["id"]


async def test_last_event_id_replays_exactly_the_missed_movements(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    clerk, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    seen = await receive(committed_client, clerk, product, location, 10)
    missed = [
        (await post_movement(committed_client, clerk, product, location, "issue", 1)).json()
        for _ in range(3)
    ]
    async with (
        running(_app(committed_database_url, tmp_path, "a")) as base,
        sse(base, STOCK_STREAM, {**clerk, "Last-Event-ID": seen["id"]}) as reader,
    ):
        replayed = [(await reader.first(about(product["id"])))["id"] for _ in range(3)]
        assert replayed == [m["id"] for m in missed]
        live = await receive(committed_client, clerk, product, location, 1)
        event = await reader.first(about(product["id"]))
        assert event["id"] == live["id"]  # no duplicate of the replayed ones, no gap


async def test_a_last_event_id_that_names_no_movement_is_refused(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_engine: Any,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    from sqlalchemy import text

    clerk, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    purged = await receive(committed_client, clerk, product, location, 1)
    async with committed_engine.begin() as connection:  # as the retention purge would
        await connection.execute(
            text("DELETE FROM events WHERE movement_id = :id"), {"id": purged["id"]}
        )
    app = _app(committed_database_url, tmp_path, "a")
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        for value in ("not-a-movement", "1", str(uuid.uuid4())):
            refused = await client.get(STOCK_STREAM, headers={**clerk, "Last-Event-ID": value})
            assert refused.status_code == 400, value
            assert refused.json()["type"] == "/problems/malformed-request"
        expired = await client.get(STOCK_STREAM, headers={**clerk, "Last-Event-ID": purged["id"]})
        assert expired.status_code == 410
        assert expired.json()["type"] == "/problems/cursor-expired"
        # Refusals took no stream slot, and a stream without Last-Event-ID goes live.
        assert app.state.broker.stream_count == 0
        async with sse(base, STOCK_STREAM, clerk) as reader:
            movement = await receive(committed_client, clerk, product, location, 1)
            await reader.until_id(movement["id"])


async def test_streams_need_a_token_and_are_capped_per_user(
    committed_database_url: str, tmp_path: Path, people: tuple[Headers, Headers]
) -> None:
    clerk, _ = people
    app = _app(committed_database_url, tmp_path, "capped", sse_max_streams_per_user=1)
    async with running(app) as base, httpx.AsyncClient(base_url=base) as client:
        unauthenticated = await client.get(STOCK_STREAM)
        assert unauthenticated.status_code == 401
        async with sse(base, STOCK_STREAM, clerk):
            refused = await client.get(STOCK_STREAM, headers=clerk)
            assert refused.status_code == 429
            assert refused.json()["type"] == "/problems/rate-limited"
            assert refused.headers["retry-after"]
            assert app.state.broker.stream_count == 1
        # A disconnected client frees its slot at once.
        for _ in range(100):
            if app.state.broker.stream_count == 0:
                break
            await asyncio.sleep(0.05)
        assert app.state.broker.stream_count == 0
        async with sse(base, STOCK_STREAM, clerk):
            pass


async def test_heartbeats_keep_an_idle_stream_alive(
    committed_database_url: str, tmp_path: Path, people: tuple[Headers, Headers]
) -> None:
    clerk, _ = people
    app = _app(committed_database_url, tmp_path, "beat", sse_heartbeat_seconds=0.2)
    async with (
        running(app) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", STOCK_STREAM, headers=clerk) as response,
    ):
        comments = 0
        async with asyncio.timeout(5):
            async for line in response.aiter_lines():
                if line.startswith(": ping"):
                    comments += 1
                    if comments == 2:
                        break
        assert comments == 2


async def test_a_lost_listener_neither_ends_streams_nor_loses_movements(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_engine: Any,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    """The log is the truth and the LISTEN only wakes streams: while it is down (and
    reconnecting) streams keep reading the log every STOCK_STREAM_POLL_SECONDS."""
    from sqlalchemy import text

    from src.core.notifications import LISTENER_NAME

    clerk, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    app = _app(committed_database_url, tmp_path, "lost", events_poll_seconds=0.2)
    async with running(app) as base, sse(base, STOCK_STREAM, clerk) as reader:
        async with committed_engine.connect() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_NAME},
            )
        assert killed >= 1
        during = await receive(committed_client, clerk, product, location, 2)
        assert (await reader.first(about(product["id"])))["id"] == during["id"]
        after = await receive(committed_client, clerk, product, location, 1)
        assert (await reader.first(about(product["id"])))["id"] == after["id"]
        # New streams open once it listens again.
        async with sse(base, STOCK_STREAM, clerk) as again:
            movement = await receive(committed_client, clerk, product, location, 2)
            await again.until_id(movement["id"])


class _CountingReader:
    """The broker's view of the process's reader: something to wake, then close."""

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.closed = False

    def wake(self) -> None:
        self.woken.set()

    async def aclose(self) -> None:
        self.closed = True


async def test_notifications_wake_the_one_reader_and_a_slow_mailbox_holds_back_nobody() -> None:
    from src.core import notifications

    broker = notifications.NotificationBroker("postgresql+asyncpg://u@h/d", max_streams_per_user=5)
    broker._listening.set()  # as if it listened
    broker._task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    reader = _CountingReader()
    broker.reader = reader
    user = uuid.uuid4()
    async with broker.subscribe(user) as fast, broker.subscribe(user) as slow:
        for _ in range(10_000):
            broker._on_notify(None, 0, "events", "")
        # One flag for the one reader; the streams hear only from it, not from each NOTIFY.
        assert reader.woken.is_set()
        assert not fast.wake.is_set()
        assert not slow.wake.is_set()
        for n in range(notifications.MAILBOX_BATCHES + 10):
            for subscription in broker.subscriptions:
                subscription.deliver(n)  # never waits
            fast.pending.popleft()  # the fast stream keeps up
        assert not fast.lagging
        assert list(fast.pending) == []
        # The slow one overflowed: emptied, marked lagging, and given nothing more until it
        # has caught up by itself (its memory stays bounded).
        assert slow.lagging
        assert list(slow.pending) == []
        slow.resync()
        slow.deliver("next")
        assert list(slow.pending) == ["next"]
        await broker.close()
        assert fast.closed
        assert slow.closed
        assert reader.closed
    assert broker.stream_count == 0


def test_asyncpg_dsn_keeps_unix_socket_hosts() -> None:
    from src.core.notifications import asyncpg_dsn

    dsn, extra = asyncpg_dsn(
        "postgresql+asyncpg://postgres@/stockroom?host=/run/stockroom&port=5432"
    )
    assert dsn.startswith("postgresql://postgres@/stockroom")
    assert extra == {"host": "/run/stockroom"}
    plain, none = asyncpg_dsn("postgresql+asyncpg://u:p@db:5433/x")
    assert plain == "postgresql://u:p@db:5433/x"
    assert none == {}
