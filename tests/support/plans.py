"""Query plans of the list statements the repositories build: each list as a `Build` (its
statement on a capturing session, paginated as keyset_page does, or, `*_page`, what the
repository's page method runs), its EXPLAIN, and the checks the plan is held to."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.core.cursors import CursorCodec
from src.repositories.base import SortOrder
from src.repositories.catalog import (
    LOCATIONS_BY_CREATED,
    PRODUCT_SORTS,
    LocationRepository,
    ProductRepository,
)
from src.repositories.stock.read import LEVELS_BY_KEY, MOVEMENTS_NEWEST_FIRST, StockRepository
from src.repositories.user import BY_CREATED, UserRepository
from src.schemas.filter import (
    LevelFilter,
    LocationFilter,
    MovementFilter,
    ProductFilter,
    ProductSort,
    UserFilter,
)
from tests.support.capture import CapturingSession

PAGE = 20
INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
CODEC = CursorCodec("explain-only")
ID = uuid.UUID("0190f0f0-0000-7000-8000-000000000001")
OTHER = uuid.UUID("0190f0f0-0000-7000-8000-000000000002")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# The last row of a previous page, by the Python type of each sort column.
LAST = {datetime: NOW, uuid.UUID: ID, str: "m"}


Build = Callable[[AsyncSession, bool], Awaitable[Select[Any]]]


def _last_key(order: SortOrder) -> list[Any]:
    return [LAST[column.type.python_type] for column in order.columns]


def keyset(statement: Select[Any], order: SortOrder, *, after: bool) -> Select[Any]:
    """What keyset_page adds to a list's statement (as in src/repositories/base.py)."""
    if after:
        key, last = tuple_(*order.columns), tuple_(*_last_key(order))
        statement = statement.where(key < last if order.descending else key > last)
    directions = [c.desc() if order.descending else c.asc() for c in order.columns]
    return statement.order_by(*directions).limit(PAGE + 1)


def listing(make: Callable[[AsyncSession], Select[Any]], order: SortOrder) -> Build:
    """A repository's statement builder, paginated like keyset_page does."""

    async def build(session: AsyncSession, after: bool) -> Select[Any]:
        return keyset(make(session), order, after=after)

    return build


# A repository's page method: (filter, codec=, cursor=, limit=) -> a page.
PageMethod = Callable[..., Awaitable[Any]]


def paged(
    scope: str, order: SortOrder, method: Callable[[AsyncSession], PageMethod], query: Any
) -> Build:
    """A repository's page method with its filter, run against a capturing session: its
    exact statement."""

    async def build(session: AsyncSession, after: bool) -> Select[Any]:
        cursor = CODEC.encode(scope, _last_key(order)) if after else None
        await method(session)(query, codec=CODEC, cursor=cursor, limit=PAGE)
        return cast(CapturingSession, session).statements[-1]

    return build


def products(sort: str, **filters: Any) -> Build:
    return listing(
        lambda s: ProductRepository(s).list_statement(ProductFilter(**filters)),
        PRODUCT_SORTS[sort],
    )


def products_page(sort: ProductSort, **filters: Any) -> Build:
    return paged(
        f"products:{sort}",
        PRODUCT_SORTS[sort],
        lambda s: ProductRepository(s).list_page,
        ProductFilter(sort=sort, **filters),
    )


def locations(**filters: Any) -> Build:
    return listing(
        lambda s: LocationRepository(s).list_statement(LocationFilter(**filters)),
        LOCATIONS_BY_CREATED,
    )


def locations_page(**filters: Any) -> Build:
    return paged(
        "locations:created_at",
        LOCATIONS_BY_CREATED,
        lambda s: LocationRepository(s).list_page,
        LocationFilter(**filters),
    )


def users(**filters: Any) -> Build:
    return paged(
        "users:created_at", BY_CREATED, lambda s: UserRepository(s).list_page, UserFilter(**filters)
    )


def movements_filter(session: AsyncSession, **filters: Any) -> Select[Any]:
    return StockRepository(session).movements_statement(MovementFilter(**filters))


def movements(**filters: Any) -> Build:
    return listing(lambda s: movements_filter(s, **filters), MOVEMENTS_NEWEST_FIRST)


def movements_page(**filters: Any) -> Build:
    return paged(
        "stock_movements:newest",
        MOVEMENTS_NEWEST_FIRST,
        lambda s: StockRepository(s).movements_page,
        MovementFilter(**filters),
    )


def levels_filter(session: AsyncSession, **filters: Any) -> Select[Any]:
    return StockRepository(session).levels_statement(LevelFilter(**filters))


def levels(**filters: Any) -> Build:
    return listing(lambda s: levels_filter(s, **filters), LEVELS_BY_KEY)


def levels_page(**filters: Any) -> Build:
    return paged(
        "stock_levels:key",
        LEVELS_BY_KEY,
        lambda s: StockRepository(s).levels_page,
        LevelFilter(**filters),
    )


def levels_as_of(**filters: Any) -> Build:
    return paged(
        "stock_levels:as_of",
        LEVELS_BY_KEY,  # same key columns (from the ledger), same cursor values
        lambda s: StockRepository(s).levels_page,
        LevelFilter(as_of=NOW, **filters),
    )


@dataclass(frozen=True)
class Case:
    build: Build
    # The index the plan must use where only one serves the sort order (and filter); None
    # where the choice depends on table statistics (an id filter against the sort order).
    index: str | None
    # A filter that index (any index, where None above) must apply itself (in its Index Cond).
    cond: str | None = None
    # The tables of the records the list embeds (`expand`): read, like all, without a Seq Scan
    # (by their primary key or another index holding the id: that turns on statistics).
    embedded: frozenset[str] = frozenset()


def id_is(column: str) -> str:
    return f"({column} = '{ID}'::uuid)"


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


async def explain(connection: AsyncConnection, statement: Select[Any]) -> list[dict[str, Any]]:
    """The plan's nodes, for the statement compiled with its values inlined."""
    sql = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}")
    document = result.scalar_one()
    if isinstance(document, str):
        document = json.loads(document)
    return list(_nodes(document[0]["Plan"]))


def show(nodes: list[dict[str, Any]]) -> str:
    keys = ("Node Type", "Relation Name", "Index Name", "Index Cond", "Recheck Cond", "Filter")
    return "\n".join(str({k: n[k] for k in keys if k in n}) for n in nodes)


Node = dict[str, Any]


def index_scans(nodes: list[Node], index: str | None = None) -> list[Node]:
    """The plan's scans of `index`, or of any index where None."""
    return [
        n
        for n in nodes
        if n["Node Type"] in INDEX_SCANS and (index is None or n["Index Name"] == index)
    ]


def applies(scans: list[Node], cond: str) -> bool:
    """Whether one of these index scans applies `cond` itself (in its Index Cond)."""
    return any(cond in n.get("Index Cond", "") for n in scans)


def assert_plan_fits(case: Case, nodes: list[Node]) -> None:
    """No Seq Scan; the case's index (any, where None) read, applying its filter; the
    embedded records' tables read."""
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], show(nodes)
    used = index_scans(nodes, case.index)
    assert used, show(nodes)
    if case.cond is not None:
        assert applies(used, case.cond), show(nodes)
    assert case.embedded <= {n.get("Relation Name") for n in nodes}, show(nodes)
