"""Purges any number of processes run at once: a batch per short transaction (a long delete
would hold the change feed back), until a batch comes back short."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Rows deleted per purge transaction.
PURGE_BATCH = 10_000


async def purge_in_batches(
    session_factory: async_sessionmaker[AsyncSession],
    purge: Callable[[AsyncSession, int], Awaitable[int]],
    batch: int = PURGE_BATCH,
) -> int:
    """Run `purge(session, batch)` until it deletes fewer than `batch`; how many went. The
    purges select with FOR UPDATE SKIP LOCKED, so processes purging at once never delete a
    row twice and never wait on each other."""
    total = 0
    while True:
        async with session_factory() as session, session.begin():
            purged = await purge(session, batch)
        total += purged
        if purged < batch:
            return total
