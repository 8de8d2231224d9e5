"""Index plans that the generic list cases in operations/test_list_indexes.py cannot pin down.

Exact lookups (`?sku=`, `?code=`): on near-empty tables the planner may rather walk the
sort index past every row than read the unique index and sort one row, and which it picks
depends on whatever statistics earlier tests left behind. With a couple of thousand rows
analysed, as any real catalog has, the unique index must win, on first and later pages.

The change feed's read: keyset on (xid, seq), bounded above by the oldest running
transaction, both in the index condition, so a page costs the same at the head of 100,000
events as at the start.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.repositories.event.log import EventRepository
from src.repositories.event.position import Position
from src.repositories.event.scan import scan_after
from tests.support.capture import CapturingSession, capturing_session
from tests.support.plans import (
    PAGE,
    Build,
    applies,
    explain,
    index_scans,
    locations,
    products,
    show,
)

POPULATE = {
    "products": "INSERT INTO products (id, sku, name, unit, reorder_point) "
    "SELECT gen_random_uuid(), "
    "'SKU-' || i, 'Product ' || i, 'each', 0 FROM generate_series(1, 2000) i",
    "locations": "INSERT INTO locations (id, code, name) SELECT gen_random_uuid(), "
    "'BIN-' || i, 'Bin ' || i FROM generate_series(1, 2000) i",
}
LOOKUPS: dict[str, tuple[str, Build, str]] = {
    "products-sku": ("products", products("created_at", sku="Bolt-M8"), "uq_products_sku_lower"),
    "products-sku-by-name": ("products", products("-name", sku="Bolt-M8"), "uq_products_sku_lower"),
    "locations-code": ("locations", locations(code="Bin-7"), "uq_locations_code_lower"),
}


def feed(*types: str) -> Build:
    """The change feed's read: a position pair, the visibility horizon, maybe types."""

    async def build(session: AsyncSession, after: bool) -> Select[Any]:
        position = Position(7_000_000, 42) if after else None
        await EventRepository(session).read_after(position, types=set(types), limit=PAGE)
        return cast(CapturingSession, session).statements[-1]

    return build


class _PageCapture:
    """Stands in for the session under `page_after`: keeps the statement with its values."""

    def __init__(self) -> None:
        self.statement: Select[Any] | None = None

    async def execute(self, statement: Select[Any], params: dict[str, Any]) -> _PageCapture:
        self.statement = statement.params(params)
        return self

    def all(self) -> list[Any]:
        return [
            SimpleNamespace(w_xid=None, w_seq=None, lost=False, t_xid=None, t_seq=None, seq=None)
        ]


def feed_page(*types: str) -> Build:
    """The poll's page: the same read beside the watermark, in one statement."""

    async def build(session: AsyncSession, after: bool) -> Select[Any]:
        capture = _PageCapture()
        position = Position(7_000_000, 42) if after else None
        await EventRepository(cast(AsyncSession, capture)).page_after(
            position, types=set(types), limit=PAGE
        )
        assert capture.statement is not None
        return capture.statement

    return build


def feed_scan(*types: str) -> Build:
    """The streams' read: events after a position beside the newest one scanned."""

    async def build(session: AsyncSession, after: bool) -> Select[Any]:
        capture = _PageCapture()
        position = Position(7_000_000, 42) if after else Position(0, 0)
        await scan_after(cast(AsyncSession, capture), position, types=set(types), limit=PAGE)
        assert capture.statement is not None
        return capture.statement

    return build


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("name", list(LOOKUPS))
async def test_an_exact_lookup_reads_the_unique_index(
    connection: AsyncConnection, name: str, after: bool
) -> None:
    table, build, index = LOOKUPS[name]
    await connection.exec_driver_sql(POPULATE[table])  # rolled back with the test
    await connection.exec_driver_sql(f"ANALYZE {table}")
    nodes = await explain(connection, await build(capturing_session(), after))
    assert applies(index_scans(nodes, index), "lower("), show(nodes)


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize(
    "types", [(), ("movement.created", "product.updated")], ids=["all", "types"]
)
@pytest.mark.parametrize("reader", [feed, feed_page, feed_scan], ids=["dispatch", "poll", "stream"])
async def test_the_feed_reads_its_position_index(
    connection: AsyncConnection, types: tuple[str, ...], after: bool, reader: Any
) -> None:
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    nodes = await explain(connection, await reader(*types)(capturing_session(), after))
    # (The watermark is a one-row table: scanning it is the plan.)
    scans = [n for n in nodes if n["Node Type"] == "Seq Scan"]
    assert not [n for n in scans if n["Relation Name"] == "events"], show(nodes)
    used = [n for n in nodes if n.get("Index Name") == "ix_events_xid_seq"]
    assert any("pg_snapshot_xmin" in n.get("Index Cond", "") for n in used), show(nodes)


@pytest.mark.slow
@pytest.mark.parametrize("reader", [feed_page, feed_scan], ids=["poll", "stream"])
async def test_a_filtered_read_after_a_position_walks_the_index_even_for_a_rare_type(
    own_database_url: str, reader: Any
) -> None:
    """With statistics saying a type is rare, the planner would rather scan the whole log
    and sort: the position would bound nothing, so a filtered read at the end of the log
    cost as much as one at its start. The fence in `only_types` keeps the index walk."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(own_database_url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO events (type, data) SELECT 'product.updated',"
                " jsonb_build_object('n', i) FROM generate_series(1, 400000) i"
            )
        async with engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE events")
            statement = await reader("reservation.expired")(capturing_session(), True)
            nodes = await explain(connection, statement)
    finally:
        await engine.dispose()
    scans = [n for n in nodes if n["Node Type"] == "Seq Scan"]
    assert not [n for n in scans if n["Relation Name"] == "events"], show(nodes)
    assert [n for n in nodes if n.get("Index Name") == "ix_events_xid_seq"], show(nodes)
