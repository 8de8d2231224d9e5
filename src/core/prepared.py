"""Hot reads on the driver: a prebuilt Core SELECT, compiled once, run by asyncpg directly
on the session's own pooled connection.

SQLAlchemy's execution path (execution context, cursor, result wrapping, events) costs as
much CPU per statement as asyncpg's own work, and a read makes two statements (the caller's
check and its query; figures: bench/README.md, "Where each request's CPU goes"). `fetch`
skips that path and keeps what it
did for us: the statement is still built with SQLAlchemy and runs on the connection and in
the transaction the session holds; its duration is observed and slow statements logged
(`src.core.querytiming`); a connection that breaks under it is invalidated and reported as
a lost connection (503), as SQLAlchemy does.

What qualifies, decided once per statement: a plain SELECT (no row locks; SQL text too, if
it passes the read-only check of `src.core.readonly`) whose parameters
need no conversion by SQLAlchemy (asyncpg binds UUIDs, strings, numbers, datetimes and
arrays itself). Anything else, and any statement on a connection whose transaction has not
begun yet (asyncpg would run it outside: SQLAlchemy begins lazily, on its own first
statement), takes SQLAlchemy's path. Either way a row is a dict by column name, with the
values asyncpg decodes (an enum column is its string: the read schemas validate them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import ARRAY, Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeEngine

from src.core.db_errors import is_connection_lost
from src.core.querytiming import SLOW_QUERY_OPTION, record_query
from src.core.readonly import plain_select_text

# Set on sessions whose statements run in autocommit (see src.core.database): no BEGIN is
# pending there, so the driver may run a statement at once.
AUTOCOMMIT = "stockroom.autocommit"
_DEFAULT_SLOW_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]  # values fixed in the statement itself (`.where(x == 5)`)


Statement = Select[Any] | TextClause
_PLANS: dict[tuple[Statement, str, str], _Plan | None] = {}


def plan_for(statement: Statement, dialect: Dialect) -> _Plan | None:
    """The compiled form `fetch` runs, or None when the statement must take SQLAlchemy's
    path. Cached per statement object: pass statements built once, not per call. Keyed by
    driver too: "postgresql" names asyncpg's dialect and psycopg's (tests capture with it)."""
    key = (statement, dialect.name, dialect.driver)
    try:
        return _PLANS[key]
    except KeyError:
        return _PLANS.setdefault(key, _compile(statement, dialect))


def _compile(statement: Statement, dialect: Dialect) -> _Plan | None:
    if dialect.driver != "asyncpg":
        return None
    if isinstance(statement, TextClause):
        if not plain_select_text(statement.text):
            return None
    elif statement._for_update_arg is not None:
        return None
    compiled = statement.compile(dialect=dialect)
    binds = compiled.binds.values()
    if any(bind.expanding or bind.callable or _converts(bind.type, dialect) for bind in binds):
        return None
    names = tuple(compiled.positiontup or ())
    # By the name the SQL gives each parameter (an anonymous literal's is made up there).
    defaults = {
        name: bind.value
        for name, bind in compiled.binds.items()
        if name in names and not bind.required
    }
    return _Plan(sql=str(compiled), names=names, defaults=defaults)


def _converts(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether SQLAlchemy changes a value of this type before binding it. An array's own
    step only makes a list of the values; asyncpg takes any sequence."""
    if isinstance(type_, ARRAY):
        return _converts(type_.item_type, dialect)
    return type_.dialect_impl(dialect).bind_processor(dialect) is not None


def _broken(error: Exception) -> bool:
    # asyncpg's own state machine gave up (a connection closed mid-statement can end so), or
    # the socket failed. A bad parameter value is an InterfaceError too, and a ValueError.
    return isinstance(error, asyncpg.InternalClientError | OSError) or (
        isinstance(error, asyncpg.InterfaceError) and not isinstance(error, ValueError)
    )


def _driver_connection(session: Session) -> tuple[Connection, Any]:
    connection = session.connection()
    return connection, connection.connection.driver_connection


async def fetch(
    session: AsyncSession, statement: Statement, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every row of `statement`, each a dict by column name."""
    values = params or {}
    plan = plan_for(statement, session.sync_session.get_bind().dialect)
    if plan is not None:
        connection, driver = await session.run_sync(_driver_connection)
        if driver.is_in_transaction() or session.info.get(AUTOCOMMIT):
            args = [values[n] if n in values else plan.defaults[n] for n in plan.names]
            return await _run(session, connection, driver, plan, args)
    return await rows_of(session, statement, values)


async def rows_of(
    session: AsyncSession, statement: Statement, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """`fetch`'s rows through SQLAlchemy alone: for statements built per call, which `fetch`
    would compile (and keep) once each."""
    result = await session.execute(statement, params or {})
    return [dict(row) for row in result.mappings()]


async def _run(
    session: AsyncSession, connection: Connection, driver: Any, plan: _Plan, args: list[Any]
) -> list[dict[str, Any]]:
    threshold = connection.get_execution_options().get(SLOW_QUERY_OPTION, _DEFAULT_SLOW_SECONDS)
    begun = time.perf_counter()
    try:
        records = await driver.fetch(plan.sql, *args)
    except Exception as exc:
        if not (driver.is_closed() or is_connection_lost(exc) or _broken(exc)):
            raise  # the statement failed, the connection is fine
        # The connection broke under the statement. As SQLAlchemy does on a disconnect:
        # drop the connection from the pool, and raise what reads as a lost connection.
        broken = exc
        await session.run_sync(lambda _: connection.invalidate(broken))
        raise DBAPIError(plan.sql, None, exc, connection_invalidated=True) from exc
    record_query(time.perf_counter() - begun, float(threshold))
    return [dict(record) for record in records]
