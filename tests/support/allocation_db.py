"""Database probes for allocation race tests: events counted, allocations made overdue,
and a wait until sessions queue on a lock (to stage a race one step at a time)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_EVENTS = text("SELECT count(*) FROM events WHERE type = :kind AND data ->> :key = ANY(:v)")


async def count_events(engine: AsyncEngine, kind: str, key: str, values: list[str]) -> int:
    """Events of `kind` whose data's `key` is one of `values`."""
    async with engine.connect() as connection:
        found = await connection.scalar(_EVENTS, {"kind": kind, "key": key, "v": values})
    return int(found or 0)


_BACKDATE_PICKS = text(
    "UPDATE reservations SET expires_at = now() - interval '1 second' "
    "WHERE allocation_id::text = ANY(:ids)"
)
_BACKDATE = text(
    "UPDATE allocations SET expires_at = now() - interval '1 second' WHERE id::text = ANY(:ids)"
)


async def backdate(engine: AsyncEngine, ids: list[str]) -> None:
    """Make allocations (and their picks) overdue: the shortest expiry is a minute."""
    async with engine.begin() as connection:
        await connection.execute(_BACKDATE_PICKS, {"ids": ids})
        await connection.execute(_BACKDATE, {"ids": ids})


_LOCK_WAITS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' AND wait_event <> 'advisory'"
)


async def until_lock_waits(engine: AsyncEngine, count: int, wait: float = 30) -> None:
    """Until `count` sessions wait for a row (or other non-advisory) lock. Raises
    TimeoutError (not an assertion, which an xfail would take for the failure it expects)."""
    async with engine.connect() as connection:
        for _ in range(int(wait / 0.02)):
            if await connection.scalar(_LOCK_WAITS) >= count:
                return
            await connection.rollback()  # statistics are read once per transaction
            await asyncio.sleep(0.02)
    raise TimeoutError(f"fewer than {count} sessions came to wait for a lock")
