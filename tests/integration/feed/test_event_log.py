"""The event log's core guarantee, on committed data with real concurrent transactions:
an event becomes readable only once no earlier-positioned transaction can still commit, so
a reader resuming from its last position never skips one and never gets one twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from src.core.database import Database
from src.core.event_types import EventType
from src.models.event import Event
from src.repositories.event.log import EventRepository
from src.repositories.event.position import BEGINNING, Position
from tests.support.feed import CATCH_UP_SECONDS, append, settle
from tests.support.settings import make_settings


async def _read(engine: AsyncEngine, after: Position | None, **kwargs: object) -> list[Event]:
    async with AsyncSession(engine) as session:
        return await EventRepository(session).read_after(after, limit=100, **kwargs)  # type: ignore[arg-type]


async def _head(engine: AsyncEngine) -> Position:
    async with AsyncSession(engine) as session:
        return await EventRepository(session).newest_visible_position() or BEGINNING


async def _read_until(engine: AsyncEngine, after: Position, count: int) -> list[Event]:
    """Events after `after`, polled the way a client does, until `count` have arrived."""
    seen: list[Event] = []
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while len(seen) < count and time.monotonic() < deadline:
        batch = await _read(engine, after)
        if batch:
            seen.extend(batch)
            after = Position(batch[-1].xid, batch[-1].seq)
        else:
            await asyncio.sleep(0.05)
    return seen


def _names(events: list[Event]) -> list[object]:
    return [e.data["name"] for e in events]


async def test_a_late_commit_is_never_skipped(feed_engine: AsyncEngine) -> None:
    start = await _head(feed_engine)
    tag = uuid.uuid4().hex
    async with feed_engine.connect() as a, feed_engine.connect() as b:
        await a.begin()
        await append(a, EventType.PRODUCT_CREATED, {"name": f"a-{tag}"})
        await b.begin()
        await append(b, EventType.PRODUCT_CREATED, {"name": f"b-{tag}"})
        await b.commit()
        a_xid = (await a.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()

        # B committed, but A (an older transaction id) is still running: nothing at or past
        # A's xid is visible, so B's event waits rather than being read before A's.
        early = await _read(feed_engine, start)
        assert all(e.xid < a_xid for e in early)
        assert f"b-{tag}" not in _names(early)

        await a.commit()

    events = await _read_until(feed_engine, start, 2)
    assert _names(events) == [f"a-{tag}", f"b-{tag}"]
    positions = [(e.xid, e.seq) for e in events]
    assert positions == sorted(positions)
    # Resuming from the last position gives nothing twice.
    assert await _read(feed_engine, Position(events[-1].xid, events[-1].seq)) == []


async def test_events_of_one_transaction_share_a_position_order(feed_engine: AsyncEngine) -> None:
    start = await _head(feed_engine)
    tag = uuid.uuid4().hex
    async with feed_engine.connect() as connection:
        await connection.begin()
        for n in range(3):
            await append(connection, EventType.LOCATION_UPDATED, {"name": f"{tag}-{n}"})
        await connection.commit()
    events = await _read_until(feed_engine, start, 3)
    assert _names(events) == [f"{tag}-0", f"{tag}-1", f"{tag}-2"]
    assert len({e.xid for e in events}) == 1


async def test_reads_filter_by_type_and_respect_the_limit(feed_engine: AsyncEngine) -> None:
    start = await _head(feed_engine)
    tag = uuid.uuid4().hex
    async with feed_engine.begin() as connection:
        await append(connection, EventType.PRODUCT_UPDATED, {"name": f"p-{tag}"})
        await append(connection, EventType.LOCATION_CREATED, {"name": f"l-{tag}"})
        await append(connection, EventType.PRODUCT_ARCHIVED, {"name": f"x-{tag}"})
    await _read_until(feed_engine, start, 3)
    only = await _read(feed_engine, start, types={"product.updated", "product.archived"})
    assert _names(only) == [f"p-{tag}", f"x-{tag}"]
    async with AsyncSession(feed_engine) as session:
        first = await EventRepository(session).read_after(start, limit=1)
    assert _names(first) == [f"p-{tag}"]


async def test_a_movement_event_records_its_position(feed_engine: AsyncEngine) -> None:
    movement_id = uuid.uuid4()
    async with feed_engine.begin() as connection:
        await append(connection, EventType.MOVEMENT_CREATED, {"id": str(movement_id)})
    async with AsyncSession(feed_engine) as session:
        repository = EventRepository(session)
        position = await repository.position_of_movement(movement_id)
        assert await repository.position_of_movement(uuid.uuid4()) is None
    assert position is not None
    rows = await _read_until(feed_engine, Position(position.xid, position.seq - 1), 1)
    assert rows
    assert rows[0].movement_id == movement_id


async def test_an_unknown_type_is_refused_before_reaching_the_log(
    feed_engine: AsyncEngine,
) -> None:
    async with feed_engine.connect() as connection:
        with pytest.raises(ValueError, match="unknown event type"):
            await append(connection, "product.exploded", {"name": "x"})


async def test_a_session_idle_inside_a_transaction_is_ended(feed_url: str, tmp_path: Path) -> None:
    """An open writing transaction holds the feed back: the app's sessions may not idle in
    one for longer than DB_IDLE_IN_TRANSACTION_TIMEOUT_MS (60 s unless configured)."""
    default = Database.from_settings(make_settings(feed_url, tmp_path))
    short = Database.from_settings(
        make_settings(feed_url, tmp_path, db_idle_in_transaction_timeout_ms=200)
    )
    try:
        async with default.engine.connect() as connection:
            show = text("SHOW idle_in_transaction_session_timeout")
            assert await connection.scalar(show) == "1min"
        connection = await short.engine.connect()
        await connection.begin()
        assert await connection.scalar(text("SELECT 1")) == 1
        await asyncio.sleep(0.8)
        with pytest.raises(DBAPIError):
            await connection.scalar(text("SELECT 1"))
        await connection.invalidate()
    finally:
        await default.dispose()
        await short.dispose()


async def test_the_lag_is_how_long_committed_events_have_been_held_back(
    feed_engine: AsyncEngine,
) -> None:
    async with feed_engine.connect() as a, feed_engine.connect() as b:
        await a.begin()
        await append(a, EventType.PRODUCT_UPDATED, {"name": "a"})
        await b.begin()
        await append(b, EventType.PRODUCT_UPDATED, {"name": "b"})
        await b.commit()  # committed, but behind A's position: held back
        await asyncio.sleep(0.3)
        assert await _lag(feed_engine) >= 0.3
        await a.commit()
    await settle(feed_engine)
    assert await _lag(feed_engine) == 0


async def test_no_lag_when_the_first_to_begin_writes_last(feed_engine: AsyncEngine) -> None:
    """A transaction's position is taken when it first writes: one that began first but
    writes after another committed comes after it, and holds nothing back."""
    async with feed_engine.connect() as first, feed_engine.connect() as second:
        await first.begin()
        await first.execute(text("SELECT 1"))
        await second.begin()
        await append(second, EventType.PRODUCT_UPDATED, {"name": "second"})
        await second.commit()
        await settle(feed_engine)
        await append(first, EventType.PRODUCT_UPDATED, {"name": "first"})
        assert await _lag(feed_engine) == 0
        await first.commit()
    await settle(feed_engine)
    assert await _lag(feed_engine) == 0


async def _lag(engine: AsyncEngine) -> float:
    async with AsyncSession(engine) as session:
        return await EventRepository(session).lag_seconds()
