"""Every list query can be answered from an index: EXPLAIN the SQL the repositories build.

Each statement is the repository's own filter builder, plus what the keyset paginator adds
(ORDER BY of the list's SortOrder, the cursor's row comparison on next pages, LIMIT n + 1);
lists without a builder are captured from the repository's own page method. The plan is read
with sequential scans disabled: test tables are tiny and would otherwise always be
seq-scanned, while with `enable_seqscan = off` the planner takes an index whenever one fits.
Where a filter is selective (an id, a search term), the index must apply it (Index Cond),
not merely be walked in sort order past every row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from src.models.stock import MovementKind
from src.models.user import Role
from src.repositories.catalog import PRODUCT_SORTS
from tests.support.capture import capturing_session
from tests.support.plans import (
    ID,
    INDEX_SCANS,
    NOW,
    OTHER,
    Build,
    Case,
    applies,
    assert_plan_fits,
    explain,
    id_is,
    index_scans,
    levels,
    levels_as_of,
    levels_filter,
    levels_page,
    locations,
    locations_page,
    movements,
    movements_filter,
    movements_page,
    products,
    products_page,
    show,
    users,
)

# Shapes of the filters in EXPLAIN's Index Cond.
SEARCH = "~~ '%bolt%'"
LEVELS_OF_ROW = "(product_id = products.id)"  # a correlated subquery's levels of one product
EXPAND = "product,location"


SORT_INDEX = {"created_at": "created_at_id", "name": "name_id", "sku": "sku_id"}
# The tables embedded records (`expand`) come from.
PRODUCT, LOCATION = frozenset({"products"}), frozenset({"locations"})
BOTH = PRODUCT | LOCATION

CASES: dict[str, Case] = {
    **{
        f"products-sort={sort}": Case(products(sort), f"ix_products_{SORT_INDEX[sort.lstrip('-')]}")
        for sort in PRODUCT_SORTS
    },
    "products-archived": Case(
        products("created_at", is_archived=True), "ix_products_created_at_id"
    ),
    "products-active-by-name": Case(products("-name", is_archived=False), "ix_products_name_id"),
    # Walk the sort index or search the trigram index: see the search test below.
    "products-q": Case(products("sku", q="bolt"), None),
    # low_stock: the sort index drives the page; each total is a range of the levels' pkey.
    **{
        f"products-low-stock={flag}-{index}": Case(products("-name", low_stock=flag), index, cond)
        for flag in (True, False)
        for index, cond in (("ix_products_name_id", None), ("pk_stock_levels", LEVELS_OF_ROW))
    },
    "locations": Case(locations(), "ix_locations_created_at_id"),
    "locations-archived": Case(locations(is_archived=True), "ix_locations_created_at_id"),
    "users": Case(users(), "ix_users_created_at_id"),
    "users-role": Case(users(role=Role.CLERK), "ix_users_created_at_id"),
    "users-role-active": Case(users(role=Role.VIEWER, is_active=True), "ix_users_created_at_id"),
    "users-q": Case(users(q="bolt"), None),
    "movements": Case(movements(), "ix_stock_movements_created_at_id"),
    "movements-kind": Case(movements(kind=MovementKind.ISSUE), "ix_stock_movements_created_at_id"),
    "movements-since-until": Case(
        movements(since=datetime(2026, 1, 1, tzinfo=UTC), until=NOW),
        "ix_stock_movements_created_at_id",
        "created_at >=",
    ),
    # No index on reference: the newest-first walk filters it (a page stops at `limit` rows).
    "movements-reference": Case(movements(reference="PO-77"), "ix_stock_movements_created_at_id"),
    "movements-product": Case(
        movements(product_id=[ID]), "ix_stock_movements_product_created_id", id_is("product_id")
    ),
    "movements-location": Case(
        movements(location_id=[ID]), "ix_stock_movements_location_created_id", id_is("location_id")
    ),
    # Several ids of one column: see operations/test_list_indexes_reservations.py.
    "movements-product-location": Case(movements(product_id=[ID], location_id=[ID]), None),
    "movements-transfer": Case(movements(transfer_id=[ID]), None),
    "movements-count": Case(movements(count_id=[ID]), None),
    "movements-batch": Case(movements(batch_id=[ID]), None),
    "levels": Case(levels(), "pk_stock_levels"),
    "levels-product": Case(levels(product_id=[ID]), None),
    "levels-location": Case(levels(location_id=[ID]), None),
    "levels-below-reorder": Case(levels(below_reorder=True), "pk_stock_levels"),
    # Embedded records: the levels' key still drives the page.
    "levels-expand-product": Case(levels(expand=["product"]), "pk_stock_levels", None, PRODUCT),
    "levels-expand-location": Case(levels(expand=["location"]), "pk_stock_levels", None, LOCATION),
    "levels-expand-both": Case(levels(expand=[EXPAND]), "pk_stock_levels", None, BOTH),
    "levels-expand-below-reorder": Case(
        levels(below_reorder=True, expand=[EXPAND]), "pk_stock_levels", None, BOTH
    ),
    "levels-expand-product-filter": Case(
        levels(product_id=[ID], expand=[EXPAND]), "pk_stock_levels", id_is("product_id"), BOTH
    ),
    # Recomputed from the ledger: which index reads it depends on the data.
    "levels-as-of": Case(levels_as_of(), None),
    "levels-as-of-location": Case(levels_as_of(location_id=[ID]), None),
    "levels-as-of-expand": Case(levels_as_of(expand=[EXPAND]), None, None, BOTH),
}

# Id filters whose index does not serve the sort order: the planner may rather walk the sort
# index when it believes the table is tiny, so each filter alone must be applied by its index.
FILTERS: dict[str, tuple[Callable[..., Select[Any]], str, str]] = {
    "movements-transfer": (movements_filter, "transfer_id", "ix_stock_movements_transfer_id"),
    "movements-count": (movements_filter, "count_id", "ix_stock_movements_count_id"),
    "movements-batch": (movements_filter, "batch_id", "ix_stock_movements_batch_id"),
    "levels-product": (levels_filter, "product_id", "pk_stock_levels"),
    "levels-location": (levels_filter, "location_id", "ix_stock_levels_location_product"),
}


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("name", list(CASES))
async def test_list_query_uses_an_index(
    no_seqscan: AsyncConnection, name: str, after: bool
) -> None:
    case = CASES[name]
    if case.index is not None:
        # The named index serves the list's order: no sort at all is the claim. On tiny
        # tables a sort of a bitmap scan of another index costs about as little, and which
        # one wins turned on the statistics other tests left (a row one column wider, too).
        await no_seqscan.exec_driver_sql("SET LOCAL enable_sort = off")
    assert_plan_fits(case, await explain(no_seqscan, await case.build(capturing_session(), after)))


@pytest.mark.parametrize("sort", list(PRODUCT_SORTS))
async def test_product_search_can_use_the_search_index(
    no_seqscan: AsyncConnection, sort: str
) -> None:
    # Plain index scans off too: otherwise walking the sort index and filtering may be the
    # cheaper plan for these empty tables, which says nothing about whether `q` has an index.
    await no_seqscan.exec_driver_sql("SET LOCAL enable_indexscan = off")
    statement = await products(sort, q="Bolt", is_archived=False)(capturing_session(), False)
    nodes = await explain(no_seqscan, statement)
    searched = {
        n["Index Name"]
        for n in nodes
        if n["Node Type"] == "Bitmap Index Scan" and SEARCH in n.get("Index Cond", "")
    }
    # One trigram index over sku, name and barcodes, folded (search_text).
    assert searched == {"ix_products_search_trgm"}, show(nodes)


async def test_user_search_can_use_an_index(no_seqscan: AsyncConnection) -> None:
    await no_seqscan.exec_driver_sql("SET LOCAL enable_indexscan = off")
    nodes = await explain(no_seqscan, await users(q="Bolt")(capturing_session(), False))
    searched = [n for n in nodes if n["Node Type"] in INDEX_SCANS and SEARCH in str(n)]
    names = {n["Index Name"] for n in searched}
    assert names == {"ix_users_email_trgm", "ix_users_full_name_trgm"}, show(nodes)


@pytest.mark.parametrize("several", [False, True], ids=["one-id", "several-ids"])
@pytest.mark.parametrize("name", list(FILTERS))
async def test_id_filter_is_applied_by_its_index(
    no_seqscan: AsyncConnection, name: str, several: bool
) -> None:
    make, column, index = FILTERS[name]
    ids = [ID, OTHER] if several else [ID]
    nodes = await explain(no_seqscan, make(capturing_session(), **{column: ids}))
    # One id is `column = id`; several, `column = ANY (ARRAY[...])`: either way in the index.
    cond = f"({column} = ANY " if several else id_is(column)
    assert applies(index_scans(nodes, index), cond), show(nodes)


# The mirrored lists above next to what their page methods really execute.
MIRRORS: dict[str, tuple[Build, Build]] = {
    "products": (
        products("-name", q="bolt", is_archived=True),
        products_page("-name", q="bolt", is_archived=True),
    ),
    "locations": (locations(is_archived=False), locations_page(is_archived=False)),
    "movements": (
        movements(product_id=[ID], transfer_id=[ID]),
        movements_page(product_id=[ID], transfer_id=[ID]),
    ),
    "levels": (
        levels(location_id=[ID], below_reorder=True, expand=[EXPAND]),
        levels_page(location_id=[ID], below_reorder=True, expand=[EXPAND]),
    ),
}


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("name", list(MIRRORS))
async def test_mirrored_pagination_is_what_the_repositories_run(
    connection: AsyncConnection, name: str, after: bool
) -> None:
    """Guards keyset() (tests/support/plans.py): it must build exactly the SQL keyset_page
    executes."""
    mirrored, real = MIRRORS[name]

    def sql(statement: Select[Any]) -> str:
        compiled = statement.compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        return str(compiled)

    assert sql(await mirrored(capturing_session(), after)) == sql(
        await real(capturing_session(), after)
    )
