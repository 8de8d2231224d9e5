"""Infrastructure dependencies shared by every router: settings, the request's session, Redis.

The session dependency is the transaction boundary of a request: it commits after the
endpoint returns and *before* the response is sent (`scope="function"`), so a client never
sees a 2xx for a write that then failed to commit; any exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core.database import Database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_redis(request: Request) -> Redis | None:
    client: Redis | None = request.app.state.redis
    return client


async def get_session(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    async with database.session_factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
RedisDep = Annotated["Redis | None", Depends(get_redis)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
