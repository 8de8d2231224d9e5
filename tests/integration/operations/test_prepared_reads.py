"""Hot reads on the driver (`src.core.prepared`): which statements take it, that they read
what SQLAlchemy's path reads, inside the session's transaction, and that a connection that
breaks under one is dropped and reported as SQLAlchemy would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pytest_mock import MockerFixture
from sqlalchemy import Select, func, literal, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from src.core import prepared
from src.core.database import build_session_factory
from src.core.db_errors import is_connection_lost
from src.models.catalog import Product
from src.repositories import idempotency
from src.repositories.base import _page_query
from src.repositories.catalog import _LOCATION_BY_ID, _PRODUCT_BY_ID
from src.repositories.stock import availability
from src.repositories.stock import read as stock
from src.repositories.user import _ACTIVE_IN_SESSION
from src.schemas.catalog import ProductRead

HOT: dict[str, Select[object] | TextClause] = {
    "caller check": _ACTIVE_IN_SESSION,
    # SQL text too, once the read-only check passes it (the check is cached per text).
    "availability of products": availability._AVAILABILITY,
    "product": _PRODUCT_BY_ID,
    "location": _LOCATION_BY_ID,
    "idempotency lock": idempotency._TRY_LOCK,
    "stored response": idempotency._FIND,
    **{
        f"levels of a product ({'next' if after else 'first'} page)": _page_query(
            stock._levels_query(("one_product_id",), False), stock.LEVELS_BY_KEY, after=after
        )
        for after in (False, True)
    },
    **{
        f"levels of a product, expanded ({'next' if after else 'first'} page)": _page_query(
            stock._levels_query(("one_product_id",), False, ("product", "location")),
            stock.LEVELS_BY_KEY,
            after=after,
        )
        for after in (False, True)
    },
    **{
        f"ledger of a product ({'next' if after else 'first'} page)": _page_query(
            stock._ledger_query(("one_product_id",)), stock.MOVEMENTS_NEWEST_FIRST, after=after
        )
        for after in (False, True)
    },
}


@pytest.mark.parametrize("name", list(HOT))
def test_hot_reads_take_the_driver_path(engine: AsyncEngine, name: str) -> None:
    plan = prepared.plan_for(HOT[name], engine.dialect)
    assert plan is not None
    assert "$1" in plan.sql  # compiled for asyncpg, parameters bound positionally


@pytest.mark.parametrize(
    "statement",
    [
        select(Product.__table__).with_for_update(),  # a row lock is no plain read
        stock._ledger_query(("kind",)),  # an enum parameter SQLAlchemy converts
        stock._ledger_query(("product_id",)),  # several ids: IN (...), one text per count
        text("SELECT id FROM products WHERE id = :id FOR UPDATE"),  # SQL text that locks
        text("UPDATE products SET name = name WHERE id = :id"),  # SQL text that writes
    ],
    ids=["row lock", "enum parameter", "expanding IN", "text that locks", "text that writes"],
)
def test_other_statements_take_sqlalchemy_path(
    engine: AsyncEngine, statement: Select[object] | TextClause
) -> None:
    assert prepared.plan_for(statement, engine.dialect) is None


def test_only_asyncpg_runs_on_the_driver() -> None:
    assert prepared.plan_for(_PRODUCT_BY_ID, sqlite.dialect()) is None


async def _product(connection: AsyncConnection) -> uuid.UUID:
    product_id = uuid.uuid4()
    await connection.execute(
        Product.__table__.insert().values(
            id=product_id, sku=f"SKU-{product_id.hex[:8]}", name="Driver path", unit="each"
        )
    )
    return product_id


async def test_driver_rows_read_as_sqlalchemy_rows(
    connection: AsyncConnection, mocker: MockerFixture
) -> None:
    product_id = await _product(connection)
    factory = build_session_factory(connection.engine)
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    run = mocker.spy(prepared, "_run")
    async with factory() as session:
        # Inside the test's transaction: the driver sees the uncommitted row.
        driver_rows = await prepared.fetch(session, _PRODUCT_BY_ID, {"id": product_id})
        assert run.call_count == 1
        orm_rows = (await session.execute(_PRODUCT_BY_ID, {"id": product_id})).mappings().all()
        missing = await prepared.fetch(session, _PRODUCT_BY_ID, {"id": uuid.uuid4()})
    assert len(driver_rows) == len(orm_rows) == 1
    assert ProductRead.model_validate(driver_rows[0]) == ProductRead.model_validate(
        dict(orm_rows[0])
    )
    assert missing == []


@pytest.fixture
async def own_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


async def test_a_transaction_begins_before_the_driver_runs(
    own_engine: AsyncEngine, mocker: MockerFixture
) -> None:
    """SQLAlchemy sends BEGIN with its first statement: until then the driver would run
    outside the transaction, so that first statement takes SQLAlchemy's path."""
    run = mocker.spy(prepared, "_run")
    async with build_session_factory(own_engine)() as session:
        await prepared.fetch(session, _PRODUCT_BY_ID, {"id": uuid.uuid4()})
        assert run.call_count == 0
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver.is_in_transaction()
        await prepared.fetch(session, _PRODUCT_BY_ID, {"id": uuid.uuid4()})
        assert run.call_count == 1  # now inside it


async def test_autocommit_sessions_run_on_the_driver_at_once(
    own_engine: AsyncEngine, mocker: MockerFixture
) -> None:
    run = mocker.spy(prepared, "_run")
    factory = build_session_factory(
        own_engine.execution_options(isolation_level="AUTOCOMMIT"), autocommit=True
    )
    async with factory() as session:
        assert await prepared.fetch(session, _PRODUCT_BY_ID, {"id": uuid.uuid4()}) == []
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert not driver.is_in_transaction()
    assert run.call_count == 1


async def test_a_connection_lost_under_a_read_is_dropped_and_reported(
    own_engine: AsyncEngine,
) -> None:
    factory = build_session_factory(
        own_engine.execution_options(isolation_level="AUTOCOMMIT"), autocommit=True
    )
    async with factory() as session:
        [row] = await prepared.fetch(session, select(func.pg_backend_pid().label("pid")))
        async with own_engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": row["pid"]})
        with pytest.raises(DBAPIError) as lost:
            await prepared.fetch(session, _PRODUCT_BY_ID, {"id": uuid.uuid4()})
    assert lost.value.connection_invalidated
    assert is_connection_lost(lost.value)
    # The pool let go of the dead connection: the next session reads on a fresh one.
    async with factory() as session:
        [again] = await prepared.fetch(session, select(func.pg_backend_pid().label("pid")))
    assert again["pid"] != row["pid"]


async def test_a_failing_statement_keeps_its_connection(own_engine: AsyncEngine) -> None:
    """An error of the statement itself (not of the connection) propagates as asyncpg
    raised it, and the connection stays in the pool, usable."""
    factory = build_session_factory(
        own_engine.execution_options(isolation_level="AUTOCOMMIT"), autocommit=True
    )
    failing = select((literal(1) / literal(0)).label("boom"))
    async with factory() as session:
        [row] = await prepared.fetch(session, select(func.pg_backend_pid().label("pid")))
        with pytest.raises(asyncpg.DivisionByZeroError):
            await prepared.fetch(session, failing)
        [again] = await prepared.fetch(session, select(func.pg_backend_pid().label("pid")))
    assert again["pid"] == row["pid"]
    assert own_engine.pool.checkedin() == 1  # returned, not invalidated


async def test_statements_built_per_call_bypass_the_plans(connection: AsyncConnection) -> None:
    """rows_of reads through SQLAlchemy alone and compiles nothing to keep."""
    factory = build_session_factory(connection.engine)
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    statement = select(literal("x").label("x"))
    async with factory() as session:
        rows = await prepared.rows_of(session, statement)
    assert rows == [{"x": "x"}]
    assert all(key[0] is not statement for key in prepared._PLANS)
