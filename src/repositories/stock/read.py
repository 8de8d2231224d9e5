"""Reads of stock levels and the ledger (levels change in `src.repositories.stock.level`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Label,
    Row,
    ScalarSelect,
    Select,
    bindparam,
    func,
    null,
    select,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from src.core.cursors import CursorCodec
from src.models.catalog import Location, Product
from src.models.stock import Movement, StockLevel
from src.repositories.base import PageResult, Repository, SortOrder, columns_for, keyset_page
from src.schemas.base import Schema
from src.schemas.filter import LevelFilter, MovementFilter
from src.schemas.stock import LocationSummary, MovementRead, ProductSummary, StockLevelRead

MOVEMENTS_NEWEST_FIRST = SortOrder("newest", (Movement.created_at, Movement.id), descending=True)
LEVELS_BY_KEY = SortOrder("key", (StockLevel.product_id, StockLevel.location_id))
LEVELS_AS_OF_BY_KEY = SortOrder("key", (Movement.product_id, Movement.location_id))

Pair = tuple[uuid.UUID, uuid.UUID]


# Reads select Core columns straight into the read schemas (no ORM entities). The ledger's
# and the levels' filters are clauses over bound parameters, named like the filter fields:
# the statement for each combination of filters in use is built once (`_ledger_query`).
_movements, _levels = Movement.__table__, StockLevel.__table__
_products, _locations = Product.__table__, Location.__table__


def _id_lists(*columns: KeyedColumnElement[Any]) -> dict[str, ColumnElement[bool]]:
    """Clauses for filters that take a list of ids: `column IN (...)` for several, and for
    a single id (the usual case) `column = :one_<name>`. PostgreSQL plans IN of one value
    as that equality anyway, but only the equality compiles to one SQL text whatever the
    value, which a hot read needs to run on the driver (src.core.prepared)."""
    clauses: dict[str, ColumnElement[bool]] = {}
    for column in columns:
        name = str(column.key)  # a table's column: always named
        clauses[name] = column.in_(bindparam(name, expanding=True))
        clauses[f"one_{name}"] = column == bindparam(f"one_{name}")
    return clauses


_MOVEMENT_COLUMNS = select(*columns_for(_movements, MovementRead))
_LEVEL_COLUMNS = select(
    _levels.c.product_id,
    _levels.c.location_id,
    _levels.c.on_hand,
    _levels.c.reserved,
    (_levels.c.on_hand - _levels.c.reserved).label("available"),
    _levels.c.incoming,
    _levels.c.updated_at,
)
_MOVEMENT_FILTERS: dict[str, ColumnElement[bool]] = {
    **_id_lists(
        _movements.c.transfer_id,
        _movements.c.count_id,
        _movements.c.batch_id,
        _movements.c.product_id,
        _movements.c.location_id,
    ),
    "kind": _movements.c.kind == bindparam("kind"),
    "reference": _movements.c.reference == bindparam("reference"),
    "since": _movements.c.created_at >= bindparam("since"),
    "until": _movements.c.created_at < bindparam("until"),
}
_LEVEL_FILTERS: dict[str, ColumnElement[bool]] = _id_lists(
    _levels.c.product_id, _levels.c.location_id
)
# The filter fields, in the order of their clauses.
_MOVEMENT_FIELDS = tuple(name for name in _MOVEMENT_FILTERS if not name.startswith("one_"))
_LEVEL_FIELDS = tuple(name for name in _LEVEL_FILTERS if not name.startswith("one_"))


def _in_use(filters: MovementFilter | LevelFilter, names: Sequence[str]) -> dict[str, Any]:
    """The filters set (a non-empty list, or a value), by the name of their clause above: a
    list of one id as that id, under `one_<name>`."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(filters, name)
        if value is None or value == []:
            continue
        if isinstance(value, list) and len(value) == 1:
            values[f"one_{name}"] = value[0]
        else:
            values[name] = value
    return values


@functools.cache
def _ledger_query(shape: tuple[str, ...]) -> Select[Any]:
    """The movements (ledger) statement for this combination of filters."""
    return _MOVEMENT_COLUMNS.where(*(_MOVEMENT_FILTERS[name] for name in shape))


# The records a level embeds (`expand`), by name: joined on `<name>_id` (a level's and a
# movement's alike), selected as `<name>__<field>`, and nested under `<name>` by `_nesting`.
_EMBEDS: dict[str, tuple[FromClause, type[Schema]]] = {
    "product": (_products, ProductSummary),
    "location": (_locations, LocationSummary),
}


def _embedded_columns(names: Sequence[str]) -> list[Label[Any]]:
    columns: list[Label[Any]] = []
    for name in names:
        table, schema = _EMBEDS[name]
        columns += [table.c[field].label(f"{name}__{field}") for field in schema.model_fields]
    return columns


def _joined(source: FromClause, names: Sequence[str]) -> FromClause:
    """`source` joined to the records named: inner joins, as the foreign keys guarantee one."""
    joined: FromClause = source
    for name in names:
        table = _EMBEDS[name][0]
        joined = joined.join(table, table.c.id == source.c[f"{name}_id"])
    return joined


def _tables(below_reorder: bool, expand: tuple[str, ...]) -> tuple[str, ...]:
    """The records to join: those embedded, and with `below_reorder` the product (its
    reorder point filters) and the location (the transit location is left out)."""
    joined = {*expand, "product", "location"} if below_reorder else set(expand)
    return tuple(name for name in _EMBEDS if name in joined)


# `below_reorder`: stock on the road is no shortage of the transit location, which has no
# reorder point of its own; its levels are never listed as below one.
_NOT_TRANSIT = _locations.c.is_transit.is_(False)


@functools.cache
def _nesting(expand: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turns a row's `<name>__<field>` columns into the record under `<name>`."""
    labels = [
        (name, [(field, f"{name}__{field}") for field in _EMBEDS[name][1].model_fields])
        for name in expand
    ]

    def nest(row: dict[str, Any]) -> dict[str, Any]:
        for name, fields in labels:
            row[name] = {field: row.pop(label) for field, label in fields}
        return row

    return nest


@functools.cache
def _levels_query(
    shape: tuple[str, ...], below_reorder: bool, expand: tuple[str, ...] = ()
) -> Select[Any]:
    """The current levels statement for this combination of filters and embedded records:
    joined in the one statement, so a page is one query however many rows it holds."""
    statement = (
        _LEVEL_COLUMNS.add_columns(*_embedded_columns(expand))
        .select_from(_joined(_levels, _tables(below_reorder, expand)))
        .where(*(_LEVEL_FILTERS[name] for name in shape))
    )
    if below_reorder:
        statement = statement.where(_levels.c.on_hand < _products.c.reorder_point, _NOT_TRANSIT)
    return statement


def available_across_locations(product_id: Any) -> ScalarSelect[int]:
    """How much of a product is available in all, over every location: the one definition
    of "available" for product-wide questions (`low_stock`): on hand less reserved.

    Archived locations are not left out: they hold nothing (archiving needs an empty
    location, and an archived one accepts no postings), so counting them changes no total
    and spares a join. A product never stocked has no level rows: 0, not NULL.
    """
    return (
        select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
        .where(StockLevel.product_id == product_id)
        .scalar_subquery()
    )


class StockRepository(Repository[StockLevel]):
    model = StockLevel

    async def movement(self, movement_id: uuid.UUID) -> Movement | None:
        return await self.session.get(Movement, movement_id)

    async def product_levels(
        self, product_id: uuid.UUID
    ) -> list[Row[uuid.UUID, uuid.UUID, int, int, int]] | None:
        """The product's levels (`location_id`, `on_hand`, `reserved`, `incoming`), or None
        when there is no such product: one statement, the product joined to its levels."""
        statement = (
            select(
                Product.id,
                StockLevel.location_id,
                StockLevel.on_hand,
                StockLevel.reserved,
                StockLevel.incoming,
            )
            .outerjoin(StockLevel, StockLevel.product_id == Product.id)
            .where(Product.id == product_id)
            .order_by(StockLevel.location_id)
        )
        rows = (await self.session.execute(statement)).all()
        if not rows:
            return None
        return [row for row in rows if row.location_id is not None]

    def movements_statement(self, filters: MovementFilter) -> Select[Any]:
        """The ledger filtered, with the filters' values bound (as `movements_page` runs it)."""
        statement, values = self._movements(filters)
        return statement.params(values)

    @staticmethod
    def _movements(filters: MovementFilter) -> tuple[Select[Any], dict[str, Any]]:
        values = _in_use(filters, _MOVEMENT_FIELDS)
        return _ledger_query(tuple(values)), values

    async def movements_page(
        self, filters: MovementFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[MovementRead]:
        statement, values = self._movements(filters)
        return await keyset_page(
            self.session,
            statement,
            scope="stock_movements:newest",
            order=MOVEMENTS_NEWEST_FIRST,
            codec=codec,
            cursor=cursor,
            limit=limit,
            into=MovementRead,
            params=values,
            reuse=True,
        )

    def levels_statement(self, filters: LevelFilter) -> Select[Any]:
        """Current levels (`as_of` is not applied here: see `levels_as_of_statement`), with
        the filters' values bound (as `levels_page` runs it)."""
        statement, values = self._levels(filters)
        return statement.params(values)

    @staticmethod
    def _levels(filters: LevelFilter) -> tuple[Select[Any], dict[str, Any]]:
        values = _in_use(filters, _LEVEL_FIELDS)
        return _levels_query(tuple(values), filters.below_reorder, filters.expansions), values

    def levels_as_of_statement(
        self, filters: LevelFilter, as_of: datetime
    ) -> Select[*tuple[Any, ...]]:
        """Levels recomputed from the ledger: the sum of every movement up to `as_of`, with
        the records embedded joined on the movements' ids and grouped by their keys."""
        expand = filters.expansions
        statement = (
            select(
                Movement.product_id.label("product_id"),
                Movement.location_id.label("location_id"),
                func.sum(Movement.quantity).label("on_hand"),
                # Reservations and shipments have no history: what is reserved and
                # incoming now, and no `available` (on hand then less reserved now is no
                # figure of any one moment).
                func.coalesce(func.max(StockLevel.reserved), 0).label("reserved"),
                null().label("available"),
                func.coalesce(func.max(StockLevel.incoming), 0).label("incoming"),
                func.max(Movement.created_at).label("updated_at"),
                *_embedded_columns(expand),
            )
            .select_from(_joined(_movements, _tables(filters.below_reorder, expand)))
            .outerjoin(
                StockLevel,
                (StockLevel.product_id == Movement.product_id)
                & (StockLevel.location_id == Movement.location_id),
            )
            .where(Movement.created_at <= as_of)
            # Grouped by each embedded record's key too, so its other columns may be selected.
            .group_by(
                Movement.product_id,
                Movement.location_id,
                *(_EMBEDS[name][0].c.id for name in expand),
            )
        )
        if filters.product_id:
            statement = statement.where(Movement.product_id.in_(filters.product_id))
        if filters.location_id:
            statement = statement.where(Movement.location_id.in_(filters.location_id))
        if filters.below_reorder:
            statement = statement.where(_NOT_TRANSIT).having(
                func.sum(Movement.quantity) < func.max(_products.c.reorder_point)
            )
        return statement

    async def levels_page(
        self, filters: LevelFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[StockLevelRead]:
        """Current levels, or with `as_of` the levels at that moment: same filters, same key,
        and the records `expand` asks for embedded in each."""
        reshape = _nesting(filters.expansions) if filters.expansions else None
        if filters.as_of is None:
            statement, values = self._levels(filters)
            return await keyset_page(
                self.session,
                statement,
                scope="stock_levels:key",
                order=LEVELS_BY_KEY,
                codec=codec,
                cursor=cursor,
                limit=limit,
                into=StockLevelRead,
                params=values,
                reuse=True,
                reshape=reshape,
            )
        return await keyset_page(
            self.session,
            self.levels_as_of_statement(filters, filters.as_of),
            scope="stock_levels:as_of",
            order=LEVELS_AS_OF_BY_KEY,
            codec=codec,
            cursor=cursor,
            limit=limit,
            into=StockLevelRead,
            reshape=reshape,
        )
