"""Housekeeping of login sessions: refresh sessions past their family's expiry go."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.repositories.refresh_session import RefreshSessionRepository

# Expired sessions deleted per purge transaction.
PURGE_BATCH = 10_000


async def purge_expired_sessions(
    session_factory: async_sessionmaker[AsyncSession], *, batch: int = PURGE_BATCH
) -> int:
    """Delete expired sessions `batch` at a time, each batch its own short transaction,
    until a batch comes back short; how many went. Other processes purging at once skip
    the rows this one holds, so none is deleted twice and none waits."""
    total = 0
    while True:
        async with session_factory() as session, session.begin():
            purged = await RefreshSessionRepository(session).purge_expired(batch=batch)
        total += purged
        if purged < batch:
            return total
