"""Purges share their work across processes without waiting for each other: rows another
transaction holds are skipped (FOR UPDATE SKIP LOCKED) and left for a later pass, and the
event purge steps aside while another process holds its lock. Each pass here must return
at once (a wait would be a block) and count only what it deleted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from src.core.database import build_session_factory
from src.services.feed import purge_expired_events
from src.services.idempotency import purge_expired
from src.services.refresh_session import purge_expired_sessions
from tests.support.factories import add_expired_sessions, create_user

AT_ONCE = 5  # seconds: far more than a pass takes, far less than a lock wait would


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[tuple[AsyncEngine, Any]]:
    engine = create_async_engine(url)
    try:
        yield engine, build_session_factory(engine)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def holding(engine: AsyncEngine, sql: str) -> AsyncIterator[AsyncConnection]:
    """Another transaction that has run `sql` (a lock) and stays open."""
    async with engine.connect() as connection:
        await connection.execute(text(sql))
        try:
            yield connection
        finally:
            await connection.rollback()


async def visible_events(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot())")
        )
    return int(count or 0)


async def test_the_idempotency_purge_skips_held_rows(own_database_url: str) -> None:
    async with database(own_database_url) as (engine, factory):
        async with engine.connect() as connection:
            user = await create_user(connection)
            await connection.execute(
                text(
                    "INSERT INTO idempotency_records (user_id, key, request_hash,"
                    " response_status, response_body, created_at)"
                    " SELECT CAST(:user AS uuid), 'k' || n, 'h', 201, '\\\\x7b7d'::bytea,"
                    " now() - interval '2 days' FROM generate_series(1, 5) AS n"
                ),
                {"user": str(user.id)},
            )
            await connection.commit()
        held = "SELECT 1 FROM idempotency_records WHERE key IN ('k1', 'k2') FOR UPDATE"
        async with holding(engine, held):
            assert await asyncio.wait_for(purge_expired(factory, batch=2), AT_ONCE) == 3
        assert await asyncio.wait_for(purge_expired(factory, batch=2), AT_ONCE) == 2


async def test_the_session_purge_skips_held_rows(own_database_url: str) -> None:
    async with database(own_database_url) as (engine, factory):
        async with engine.connect() as connection:
            await add_expired_sessions(connection, await create_user(connection), 5)
        held = "SELECT 1 FROM refresh_sessions WHERE token_hash = 'hash-3' FOR UPDATE"
        async with holding(engine, held):
            assert await asyncio.wait_for(purge_expired_sessions(factory, batch=2), AT_ONCE) == 4
        assert await asyncio.wait_for(purge_expired_sessions(factory, batch=2), AT_ONCE) == 1


async def test_the_event_purge_steps_aside_while_another_runs(own_database_url: str) -> None:
    async with database(own_database_url) as (engine, factory):
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO events (type, data, occurred_at)"
                    " SELECT 'product.created', '{}', now() - interval '2 days'"
                    " FROM generate_series(1, 3)"
                )
            )
        # Purgeable once visible: no older transaction anywhere on the server still runs.
        async with asyncio.timeout(60):
            while True:
                if await visible_events(engine) == 3:
                    break
                await asyncio.sleep(0.1)
        other = "SELECT pg_advisory_xact_lock(x'45564E54'::int, 1)"  # the purge's lock
        async with holding(engine, other):
            assert await asyncio.wait_for(purge_expired_events(factory, 1), AT_ONCE) == 0
        assert await asyncio.wait_for(purge_expired_events(factory, 1), AT_ONCE) == 3
