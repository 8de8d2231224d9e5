"""Reading Server-Sent Events in tests, and a database of its own for feed streams whose
postings a test can hold open at will."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx

from src.core.notifications import asyncpg_dsn

FEED_STREAM = "/api/v1/events/stream"
STOCK_STREAM = "/api/v1/stock/events"

# A test-only trigger, created in a test's own database: a movement whose reference starts
# with "hold-" waits, after its insert and before its events are appended and committed, for
# the shared advisory lock named by its reference, which the test holds until it releases it.
HOLD_TRIGGER = """
CREATE FUNCTION test_hold_movement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reference LIKE 'hold-%' THEN
        PERFORM pg_advisory_xact_lock_shared(hashtext(NEW.reference));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_hold_movement AFTER INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION test_hold_movement();
"""


class SseReader:
    """Events (`{"id", "event", "data"}`, data parsed) off an open SSE response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, wait: float = 30) -> dict[str, Any]:
        event: dict[str, Any] = {}
        async with asyncio.timeout(wait):
            async for line in self.lines:
                if line.startswith(":"):
                    continue  # heartbeat comment
                if not line:
                    if event:
                        event["data"] = json.loads(event["data"])
                        return event
                    continue
                name, _, value = line.partition(": ")
                event[name] = value
        raise AssertionError("stream ended")

    async def collect(
        self, count: int, keep: Callable[[dict[str, Any]], bool], wait: float = 30
    ) -> list[dict[str, Any]]:
        """The next `count` events `keep` accepts (others are skipped)."""
        kept: list[dict[str, Any]] = []
        while len(kept) < count:
            event = await self.next(wait)
            if keep(event):
                kept.append(event)
        return kept

    async def first(self, keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next event `keep` accepts (others, e.g. of other tests, are skipped)."""
        (event,) = await self.collect(1, keep)
        return event

    async def until_id(self, event_id: str) -> dict[str, Any]:
        return await self.first(lambda event: event["id"] == event_id)

    async def ends(self, within: float = 5.0) -> float:
        """Seconds until the server finished the response (AssertionError if it did not)."""
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(within):
                async for _line in self.lines:
                    pass
        except TimeoutError:
            raise AssertionError(f"the stream was still open after {within} s") from None
        return asyncio.get_running_loop().time() - started


@contextlib.asynccontextmanager
async def sse(
    base: str, path: str, headers: dict[str, str], **params: str
) -> AsyncIterator[SseReader]:
    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as client,
        client.stream("GET", path, headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseReader(response)


class Holds:
    """Advisory locks on a connection of the test's own: a posting whose reference is held
    stays open (after its insert) until `release`."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def hold(self, reference: str) -> None:
        await self.connection.execute("SELECT pg_advisory_lock(hashtext($1))", reference)

    async def release(self, reference: str) -> None:
        await self.connection.execute("SELECT pg_advisory_unlock(hashtext($1))", reference)

    async def waiting(self) -> int:
        """How many sessions wait for an advisory lock (held postings that reached it)."""
        count = await self.connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return int(count)

    async def until_waiting(self, count: int, wait: float = 30) -> None:
        for _ in range(int(wait / 0.02)):
            if await self.waiting() >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {count} postings reached their hold")


@contextlib.asynccontextmanager
async def holds(database_url: str) -> AsyncIterator[Holds]:
    dsn, extra = asyncpg_dsn(database_url)
    connection = await asyncpg.connect(dsn, **extra)
    try:
        yield Holds(connection)
    finally:
        await connection.close()


async def install_hold_trigger(database_url: str) -> None:
    dsn, extra = asyncpg_dsn(database_url)
    connection = await asyncpg.connect(dsn, **extra)
    try:
        await connection.execute(HOLD_TRIGGER)
    finally:
        await connection.close()
