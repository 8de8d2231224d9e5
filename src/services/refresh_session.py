"""Housekeeping of login sessions: refresh sessions past their family's expiry go."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.repositories.refresh_session import RefreshSessionRepository


async def purge_expired_sessions(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """One purge pass in its own transaction (run periodically by the app); how many went."""
    async with session_factory() as session, session.begin():
        return await RefreshSessionRepository(session).purge_expired()
