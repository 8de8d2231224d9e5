"""One read of the event log per wake per process, fanned out to every open stream: the
statements a posting costs the streams stay the same from 1 to 100 streams; a process-wide
cap (SSE_MAX_STREAMS, 503 beyond); a stream that falls behind catches up by itself, without
holding back the others; a filtered read moves past what it scanned."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.core.notifications import NotificationBroker
from src.main import create_app
from src.models.user import Role
from src.repositories.event.log import EventRepository
from src.repositories.event.position import BEGINNING, Position
from src.repositories.event.scan import scan_after
from src.services.stream import StreamService
from src.services.stream_hub import StreamHub
from tests.support.factories import Headers, MakeUser, login_headers
from tests.support.feed import append_committed, log_reads, settle
from tests.support.servers import running
from tests.support.settings import TEST_SECRET_KEY, make_settings
from tests.support.sse import FEED_STREAM, STOCK_STREAM, SseReader, sse
from tests.support.stock import new_location, new_product, receive

POSTINGS = 5


async def _reads_for_postings(
    url: str,
    tmp_path: Path,
    client: httpx.AsyncClient,
    people: tuple[Headers, Headers],
    streams: int,
) -> int:
    clerk, manager = people
    product = await new_product(client, manager)
    location = await new_location(client, manager)
    app = create_app(make_settings(url, tmp_path / str(streams), sse_max_streams_per_user=100))
    async with running(app) as base, contextlib.AsyncExitStack() as stack:
        readers: list[SseReader] = [
            await stack.enter_async_context(sse(base, STOCK_STREAM, clerk)) for _ in range(streams)
        ]
        # Every stream has caught up by itself and follows the reader from here on.
        warm = await receive(client, clerk, product, location, 1)
        for reader in readers:
            await reader.until_id(warm["id"])
        with log_reads(app) as reads:
            for n in range(POSTINGS):
                movement = await receive(client, clerk, product, location, n + 1)
                for reader in readers:
                    assert (await reader.until_id(movement["id"]))["data"] == movement
        return len(reads)


@pytest.mark.slow
async def test_the_log_reads_of_postings_stay_constant_from_1_to_100_streams(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    counts = {
        streams: await _reads_for_postings(
            committed_database_url, tmp_path, committed_client, people, streams
        )
        for streams in (1, 100)
    }
    # One read per wake (a NOTIFY; maybe one more when the oldest transaction moves on),
    # whatever the number of streams: each stream reading for itself made 100 per posting.
    assert 1 <= counts[1] <= 3 * POSTINGS, counts
    assert 1 <= counts[100] <= 3 * POSTINGS, counts
    assert abs(counts[100] - counts[1]) <= POSTINGS, counts


# ---------------------------------------------------------------- the process-wide cap


async def test_streams_past_the_process_cap_are_503_with_retry_after(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    users = [
        await login_headers(committed_client, await committed_make_user(role=Role.VIEWER))
        for _ in range(3)
    ]
    app = create_app(make_settings(committed_database_url, tmp_path, sse_max_streams=2))
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with sse(base, STOCK_STREAM, users[0]), sse(base, FEED_STREAM, users[1]):
            refused = await client.get(STOCK_STREAM, headers=users[2])
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"] == "5"
            body = refused.json()
            assert body["type"] == "/problems/streams-full"
            assert body["request_id"]
            # Either stream counts: the feed's is refused too.
            again = await client.get(FEED_STREAM, headers=users[2])
            assert again.status_code == 503
            assert app.state.broker.stream_count == 2
        # A place freed is a place taken.
        async with sse(base, FEED_STREAM, users[2]):
            assert app.state.broker.stream_count == 1


async def test_the_per_user_cap_still_answers_429_below_the_process_cap(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    viewer = await login_headers(committed_client, await committed_make_user(role=Role.VIEWER))
    settings = make_settings(
        committed_database_url, tmp_path, sse_max_streams=10, sse_max_streams_per_user=1
    )
    app = create_app(settings)
    async with (
        running(app) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        sse(base, STOCK_STREAM, viewer),
    ):
        refused = await client.get(FEED_STREAM, headers=viewer)
        assert refused.status_code == 429
        assert refused.json()["type"] == "/problems/rate-limited"


def test_the_cap_setting_is_bounded(committed_database_url: str, tmp_path: Path) -> None:
    from pydantic import ValidationError

    assert make_settings(committed_database_url, tmp_path).feed.sse_max_streams == 1000
    for bad in (0, -1):
        with pytest.raises(ValidationError):
            make_settings(committed_database_url, tmp_path, sse_max_streams=bad)


# ---------------------------------------------------------------- a stream that falls behind


@contextlib.asynccontextmanager
async def _service(url: str) -> AsyncIterator[tuple[StreamService, NotificationBroker]]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    broker = NotificationBroker(url, max_streams_per_user=5)
    broker._listening.set()  # woken by hand in these tests, not by a LISTEN
    broker._task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    broker.mailbox_batches = 2
    factory = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield StreamService(factory, broker, CursorCodec(TEST_SECRET_KEY)), broker
    finally:
        await broker.close()
        await engine.dispose()


async def _read_by_hub(broker: NotificationBroker, engine: AsyncEngine, name: str) -> None:
    """Commit one event and wait until the process's reader has read it."""
    await append_committed(engine, (EventType.PRODUCT_UPDATED, {"name": name}))
    await settle(engine)
    async with AsyncSession(engine) as session:
        newest = await EventRepository(session).newest_visible_position()
    hub = broker.reader
    assert isinstance(hub, StreamHub)
    async with asyncio.timeout(30):
        while hub.position != newest:
            broker.wake_all()
            await asyncio.sleep(0.02)


async def test_a_stream_that_falls_behind_catches_up_without_gaps_or_repeats(
    feed_url: str, feed_engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex
    async with (
        _service(feed_url) as (service, broker),
        service.open_feed(uuid.uuid4(), None, ()) as slow,
        service.open_feed(uuid.uuid4(), None, ()) as fast,
    ):
        slow_events = slow.__aiter__()
        fast_events = fast.__aiter__()
        first_slow = asyncio.create_task(anext(slow_events))
        first_fast = asyncio.create_task(anext(fast_events))
        await _read_by_hub(broker, feed_engine, f"{tag}-0")
        (slow_first,), (fast_first,) = await first_slow, await first_fast
        assert slow_first.type == fast_first.type == "product.updated"
        subscriptions = broker.subscriptions
        # Five more reads while the slow stream takes nothing: its mailbox (2) overflows.
        received: list[str] = []
        for n in range(1, 6):
            await _read_by_hub(broker, feed_engine, f"{tag}-{n}")
            received.append(_name(await anext(fast_events)))  # the fast one keeps up
        assert received == [f"{tag}-{n}" for n in range(1, 6)]
        assert sorted(s.lagging for s in subscriptions) == [False, True]
        # The slow one reads the log itself from where it was: every event once, in order,
        # sent at once (one page of its catch-up).
        caught_up = _names(await anext(slow_events))
        assert caught_up == [f"{tag}-{n}" for n in range(1, 6)]
        assert not any(s.lagging for s in subscriptions)
        # ...and then follows the reader again.
        await _read_by_hub(broker, feed_engine, f"{tag}-6")
        assert _name(await anext(slow_events)) == _name(await anext(fast_events)) == f"{tag}-6"


def _names(chunk: Any) -> list[str]:
    """The names of a chunk's events (a stream yields what it sends at once)."""
    import json

    return [json.loads(streamed.data)["data"]["name"] for streamed in chunk]


def _name(chunk: Any) -> str:
    (name,) = _names(chunk)
    return name


async def test_a_typed_stream_gets_only_its_types_from_the_shared_reads(
    feed_url: str, feed_engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex
    async with (
        _service(feed_url) as (service, broker),
        service.open_feed(uuid.uuid4(), None, {EventType.LOCATION_CREATED.value}) as typed,
    ):
        events = typed.__aiter__()
        first = asyncio.create_task(anext(events))
        await _read_by_hub(broker, feed_engine, f"{tag}-other")
        await asyncio.sleep(0.1)
        assert not first.done()  # a product event is not for it
        await append_committed(feed_engine, (EventType.LOCATION_CREATED, {"name": f"{tag}-loc"}))
        await settle(feed_engine)
        broker.wake_all()
        (streamed,) = chunk = await asyncio.wait_for(first, 30)
        assert (streamed.type, _name(chunk)) == ("location.created", f"{tag}-loc")


# ---------------------------------------------------------------- filtered reads advance


async def test_a_filtered_scan_goes_through_to_the_last_event_it_looked_at(
    feed_engine: AsyncEngine,
) -> None:
    async with AsyncSession(feed_engine) as session:
        start = await EventRepository(session).newest_visible_position() or BEGINNING
    tag = uuid.uuid4().hex
    await append_committed(
        feed_engine, *[(EventType.PRODUCT_UPDATED, {"name": f"{tag}-{n}"}) for n in range(4)]
    )
    await settle(feed_engine)
    async with AsyncSession(feed_engine) as session:
        end = await EventRepository(session).newest_visible_position()
        nothing = await scan_after(session, start, types={"reservation.expired"}, limit=10)
        # Nothing matched, but the read went through the four events: the next starts after.
        assert nothing.events == []
        assert nothing.through == end
        assert nothing.through is not None
        assert nothing.through > start
        again = await scan_after(session, nothing.through, types={"reservation.expired"}, limit=10)
        assert again == ([], None)
        # A full page ends at its last match, not at the tail.
        full = await scan_after(session, start, types={"product.updated"}, limit=2)
        assert [e.data["name"] for e in full.events] == [f"{tag}-0", f"{tag}-1"]
        assert full.through == full.events[-1].position
        # Unfiltered: through the last event read.
        every = await scan_after(session, start, types=(), limit=10)
        assert every.through == end == Position(every.events[-1].xid, every.events[-1].seq)


# ---------------------------------------------------------------- a burst of streams


async def test_a_burst_of_streams_larger_than_the_pool_opens(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    """Opening a stream once held the request's connection while it took another: more
    streams at once than the pool has connections waited for each other until the pool's
    timeout (503)."""
    viewer = await login_headers(committed_client, await committed_make_user(role=Role.VIEWER))
    settings = make_settings(
        committed_database_url,
        tmp_path,
        db_pool_size=2,
        db_max_overflow=0,
        db_pool_timeout=3,
        sse_max_streams_per_user=12,
    )
    app = create_app(settings)
    async with running(app) as base, contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))

        async def open_one(path: str) -> int:
            response = await stack.enter_async_context(client.stream("GET", path, headers=viewer))
            return response.status_code

        statuses = await asyncio.gather(
            *(open_one(STOCK_STREAM if n % 2 else FEED_STREAM) for n in range(12))
        )
        assert statuses == [200] * 12
        assert app.state.broker.stream_count == 12
        # The pool is not held by the open streams: an ordinary request still gets a
        # connection at once.
        me = await client.get("/api/v1/users/me", headers=viewer)
        assert me.status_code == 200


async def test_streams_outlive_a_reader_that_stopped(
    feed_url: str, feed_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the process's reader stop (it never should), open streams notice within
    IDLE_SECONDS, start it again and catch up by themselves: nothing is lost."""
    import src.services.stream as streams_module

    monkeypatch.setattr(streams_module, "IDLE_SECONDS", 0.2)
    tag = uuid.uuid4().hex
    async with (
        _service(feed_url) as (service, broker),
        service.open_feed(uuid.uuid4(), None, ()) as stream,
    ):
        events = stream.__aiter__()
        first = asyncio.create_task(anext(events))
        await _read_by_hub(broker, feed_engine, f"{tag}-0")
        assert _name(await first) == f"{tag}-0"
        hub = broker.reader
        assert isinstance(hub, StreamHub)
        await hub.aclose()
        assert not hub.running
        await append_committed(
            feed_engine, *[(EventType.PRODUCT_UPDATED, {"name": f"{tag}-{n}"}) for n in (1, 2)]
        )
        await settle(feed_engine)
        got: list[str] = []
        while len(got) < 2:
            got += _names(await asyncio.wait_for(anext(events), 30))
        assert got == [f"{tag}-1", f"{tag}-2"]
        assert hub.running
