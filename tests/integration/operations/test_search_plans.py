"""Product search at catalog scale: with 100,000 products analysed, `?q=` reads the trigram
index on the folded search column (never a scan of the table), and `?barcode=` the lookup
table's primary key; both in the statement the repository's page method really runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from src.core.gtin import gtin14
from tests.support.capture import capturing_session
from tests.support.plans import Build, explain, index_scans, products_page, show

# 100,000 products, each with one 13-digit barcode (the database does not check digits);
# one in a thousand named with an accented word.
POPULATE = (
    "INSERT INTO products (id, sku, name, unit, reorder_point, barcodes) "
    "SELECT gen_random_uuid(), 'SKU-' || i, "
    "'Product ' || i || CASE WHEN i % 1000 = 0 THEN ' Crème brûlée' ELSE '' END, 'each', 0, "
    "ARRAY[(4000000000000 + i)::text] FROM generate_series(1, 100000) i"
)
SEARCHES: dict[str, Build] = {
    "q-accents": products_page("created_at", q="CREME"),
    "q-by-name": products_page("-name", q="brulee"),
    # Not `sku`: its next page starts after "m", past every 'SKU-…', and an empty range of
    # the sort index is rightly the cheaper plan there.
    "q-sku": products_page("-sku", q="SKU-4242"),
    "q-barcode": products_page("created_at", q="4000000012344"),
    "q-active": products_page("created_at", q="crème", is_archived=False),
}
BARCODE = "4000000012344"  # product 12344's, a valid EAN-13


@pytest.fixture(scope="module")
async def catalog(feed_url: str) -> AsyncIterator[AsyncConnection]:
    """The module's own database (committed rows) holding the 100,000 products, analysed."""
    engine = create_async_engine(feed_url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(POPULATE)
        async with engine.connect() as connection:
            # ANALYZE samples 300 rows per point of the target: at 400 it reads every row, so
            # the statistics, and so the plans, are the same on every run (a random sample
            # now and then put a rare name in the histogram and made it look common).
            await connection.exec_driver_sql("SET default_statistics_target = 400")
            await connection.exec_driver_sql("ANALYZE products")
            await connection.exec_driver_sql("ANALYZE product_barcodes")
            yield connection
    finally:
        await engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("name", list(SEARCHES))
async def test_q_reads_the_search_index(catalog: AsyncConnection, name: str, after: bool) -> None:
    nodes = await explain(catalog, await SEARCHES[name](capturing_session(), after))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], show(nodes)
    used = index_scans(nodes, "ix_products_search_trgm")
    assert used, show(nodes)
    # The term arrives folded (lower case, no accents), as the column was.
    assert all("é" not in n["Index Cond"] and "CREME" not in n["Index Cond"] for n in used)


@pytest.mark.slow
@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("sort", ["created_at", "-name"])
async def test_barcode_reads_the_lookup_key(
    catalog: AsyncConnection, sort: Any, after: bool
) -> None:
    build = products_page(sort, barcode=BARCODE)
    nodes = await explain(catalog, await build(capturing_session(), after))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], show(nodes)
    used = index_scans(nodes, "pk_product_barcodes")
    assert any(gtin14(BARCODE) in n.get("Index Cond", "") for n in used), show(nodes)
    assert index_scans(nodes, "pk_products"), show(nodes)


@pytest.mark.slow
async def test_the_search_finds_what_the_plan_promises(catalog: AsyncConnection) -> None:
    """The same statements return the rows: the fold matched the populated names."""
    for name, expected in (("q-accents", 21), ("q-barcode", 1)):  # a page of 20, plus one
        statement = await SEARCHES[name](capturing_session(), False)
        rows = (await catalog.execute(statement)).all()
        assert len(rows) == expected, name
