"""The async engine and session factory, owned by the app's lifespan.

No `pool_pre_ping`: with asyncpg it costs three round trips (BEGIN, ping, ROLLBACK) on every
checkout, about a sixth of a simple request's time. A dead connection is found on first use
instead: that request answers 503 (retryable), SQLAlchemy invalidates the whole pool, and the
next request reconnects. Connections are recycled after DB_POOL_RECYCLE_SECONDS so that idle
timeouts elsewhere rarely get the chance. The connect timeout bounds how long a request can
hang when the server is unreachable.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from src.config import Settings
from src.core.db_errors import guard_connects
from src.core.prepared import AUTOCOMMIT
from src.core.querytiming import TimedNullPool, TimedQueuePool, instrument


def build_engine(settings: Settings) -> AsyncEngine:
    if settings.database.database_url is None:
        raise ValueError("DATABASE_URL is not set")
    connect_args: dict[str, Any] = {
        "timeout": settings.database.db_connect_timeout,
        "command_timeout": settings.database.db_statement_timeout_ms / 1000 or None,
        "server_settings": {"application_name": "stockroom"},
    }
    if settings.database.db_pgbouncer:
        # Transaction pooling hands each transaction any server connection: prepared
        # statements need names unique across clients, and nothing may be cached.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = lambda: f"__asyncpg_{uuid.uuid4()}__"
        engine = create_async_engine(
            settings.database.database_url,
            poolclass=TimedNullPool,
            hide_parameters=True,
            connect_args=connect_args,
        )
        instrument(engine.sync_engine, slow_query_ms=settings.database.db_slow_query_ms)
        return engine
    # PgBouncer rejects unknown startup parameters, so these are set only when direct (behind
    # PgBouncer, set them on the database role: `ALTER ROLE ... SET ...`).
    connect_args["server_settings"]["statement_timeout"] = str(
        settings.database.db_statement_timeout_ms
    )
    connect_args["server_settings"]["idle_in_transaction_session_timeout"] = str(
        settings.database.db_idle_in_transaction_timeout_ms
    )
    engine = create_async_engine(
        settings.database.database_url,
        poolclass=TimedQueuePool,
        # Statement parameters (password hashes, token hashes) never appear in error text.
        hide_parameters=True,
        pool_size=settings.database.db_pool_size,
        max_overflow=settings.database.db_max_overflow,
        pool_timeout=settings.database.db_pool_timeout,
        pool_recycle=settings.database.db_pool_recycle_seconds,
        connect_args=connect_args,
    )
    instrument(engine.sync_engine, slow_query_ms=settings.database.db_slow_query_ms)
    return engine


def build_session_factory(
    engine: AsyncEngine, *, autocommit: bool = False
) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after the request's commit, so the
    # response can be built from them without lazy I/O.
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, info={AUTOCOMMIT: autocommit}
    )


class Database:
    """Engine plus session factories, one per process, created and disposed by the lifespan:
    `session_factory` for work in a transaction, `read_session_factory` for safe requests,
    whose statements run in autocommit (no BEGIN, no COMMIT: see `src.core.readonly`).
    Switching a pooled connection to autocommit and back is a flag in the driver, no I/O.

    Not behind PgBouncer: in transaction pooling, a statement outside a transaction may be
    prepared on one server connection and executed on another, so reads keep theirs."""

    def __init__(
        self,
        engine: AsyncEngine,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        *,
        autocommit_reads: bool = True,
    ) -> None:
        self.engine = engine
        guard_connects(engine)
        # Tests pass a factory bound to one connection whose transaction they roll back;
        # reads then join it like everything else.
        self.session_factory = session_factory or build_session_factory(engine)
        self.read_session_factory = self.session_factory
        if session_factory is None and autocommit_reads:
            self.read_session_factory = build_session_factory(
                engine.execution_options(isolation_level="AUTOCOMMIT"), autocommit=True
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(build_engine(settings), autocommit_reads=not settings.database.db_pgbouncer)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def release(session: AsyncSession) -> None:
    """End the session's read-only transaction so its pooled connection (and any row lock)
    goes back before slow work such as Argon2; the next statement starts a new transaction.

    Rolls back, never commits: call it only before the request has written anything. Loaded
    objects stay readable but detached; load again what is to be written.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release() would discard unsaved changes")
    await session.close()
