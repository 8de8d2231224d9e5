"""Change-feed test helpers: a database of its own, events written straight to the log,
waiting until they are visible, and the statements an app runs that read the log.

Visibility is server-wide (any transaction holding an xid on the PostgreSQL server, in any
database, holds the feed back), so tests wait for their committed events instead of assuming
them visible at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from src.repositories.event.log import EventRepository

# Generous: on a shared development server another suite's long test can hold it that long.
CATCH_UP_SECONDS = 120.0


async def append(
    connection: AsyncConnection,
    type_: str,
    data: Mapping[str, Any],
    actor: Mapping[str, Any] | None = None,
) -> None:
    """Append in `connection`'s open transaction (the caller commits or holds it open)."""
    await EventRepository(AsyncSession(bind=connection)).append(type_, data, actor)


async def append_committed(engine: AsyncEngine, *events: tuple[str, Mapping[str, Any]]) -> None:
    """Append `events` in one committed transaction."""
    async with engine.begin() as connection:
        for type_, data in events:
            await append(connection, type_, data)


async def settle(engine: AsyncEngine) -> None:
    """Wait until every committed event of this database is visible in the feed."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        async with engine.connect() as connection:
            held = await connection.scalar(
                text(
                    "SELECT count(*) FROM events"
                    " WHERE xid >= pg_snapshot_xmin(pg_current_snapshot())"
                )
            )
        if not held:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("committed events stayed invisible: a transaction is held open")


async def head(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The id to poll after to see only what happens from now on (pages to the end)."""
    after: str | None = None
    while True:
        params = {"limit": "100", **({"after": after} if after else {})}
        response = await client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        after = body["next_cursor"]
        if not body["items"]:
            assert after is not None
            return after


async def eventually(condition: Callable[[], Awaitable[bool]]) -> bool:
    """Poll `condition` until it holds or the catch-up time runs out; its last answer."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@contextlib.contextmanager
def log_reads(app: FastAPI) -> Iterator[list[str]]:
    """The statements the app runs that read the event log."""
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM events" in statement:
            reads.append(statement)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", record)
