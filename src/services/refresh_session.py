"""Housekeeping of login sessions: refresh sessions past their family's expiry go."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.repositories.refresh_session import RefreshSessionRepository
from src.services.housekeeping import PURGE_BATCH, purge_in_batches


async def purge_expired_sessions(
    session_factory: async_sessionmaker[AsyncSession], *, batch: int = PURGE_BATCH
) -> int:
    """Delete expired sessions, `batch` per transaction; how many went."""
    return await purge_in_batches(
        session_factory,
        lambda session, size: RefreshSessionRepository(session).purge_expired(batch=size),
        batch,
    )
