"""Queries over products and locations."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Select, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert

from src.core.cursors import CursorCodec
from src.core.gtin import gtin14
from src.core.ids import new_id
from src.core.prepared import fetch
from src.models.catalog import Location, Product, ProductBarcode
from src.models.stock import StockLevel
from src.repositories.base import (
    PageResult,
    Repository,
    SortOrder,
    columns_for,
    folded_contains,
    keyset_page,
)
from src.repositories.stock.read import available_across_locations
from src.schemas.catalog import LocationRead, ProductRead
from src.schemas.filter import LocationFilter, ProductFilter

PRODUCT_SORTS = {
    "created_at": SortOrder("created_at", (Product.created_at, Product.id)),
    "-created_at": SortOrder("-created_at", (Product.created_at, Product.id), descending=True),
    "name": SortOrder("name", (Product.name, Product.id)),
    "-name": SortOrder("-name", (Product.name, Product.id), descending=True),
    "sku": SortOrder("sku", (Product.sku, Product.id)),
    "-sku": SortOrder("-sku", (Product.sku, Product.id), descending=True),
}
# The transit location's code: '~' is outside what clients may use in a code, so it can
# never collide with theirs.
TRANSIT_CODE = "~in-transit"
LOCATIONS_BY_CREATED = SortOrder("created_at", (Location.created_at, Location.id))

# Reads select Core columns straight into the read schemas (no ORM entities); the
# statements without filters are built once.
_PRODUCT_COLUMNS = select(*columns_for(Product.__table__, ProductRead))
_PRODUCT_BY_ID = _PRODUCT_COLUMNS.where(Product.__table__.c.id == bindparam("id"))
_LOCATION_COLUMNS = select(*columns_for(Location.__table__, LocationRead))
_LOCATION_BY_ID = _LOCATION_COLUMNS.where(Location.__table__.c.id == bindparam("id"))

# `= ANY(array)`, not `IN (…)`: the same SQL whatever the number of products
# (`src.repositories.unnest`).
_PRODUCTS = (
    select(Product.id, Product.reorder_point, Product.is_archived)
    .where(Product.id == any_(bindparam("ids", type_=ARRAY(Product.__table__.c.id.type))))
    .order_by(Product.id)
)
_PRODUCTS_LOCKED = _PRODUCTS.with_for_update(read=True)
# FOR NO KEY UPDATE: waits for, and holds off, every posting that has the product FOR SHARE
# (as each that adds stock does), yet not the foreign-key checks of rows naming it.
_PRODUCTS_HELD = _PRODUCTS.with_for_update(key_share=True)


@dataclass(frozen=True, slots=True)
class ProductState:
    """What postings need of a locked product."""

    reorder_point: int
    is_archived: bool


class CatalogRepository(Repository[Any]):
    # The stock_levels column that points at this kind of item.
    level_column: ClassVar[Any]

    async def held(self, item_id: uuid.UUID) -> tuple[int, int]:
        """Total stock the item holds (a product across locations, a location across
        products) and the total on its way to it (`incoming`): (on_hand, incoming)."""
        row = (
            await self.session.execute(
                select(
                    func.coalesce(func.sum(StockLevel.on_hand), 0),
                    func.coalesce(func.sum(StockLevel.incoming), 0),
                ).where(
                    # Through the class: on an instance the ORM descriptor would look for state.
                    type(self).level_column == item_id
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def get_locked(self, id_: uuid.UUID, *, exclusive: bool) -> Any:
        """The row locked FOR UPDATE (archive, edit) or FOR SHARE (posting stock against it).

        Movements take the shared lock and archiving the exclusive one, so an archive and a
        posting on the same item are decided one after the other, never interleaved.
        """
        statement = (
            select(self.model)
            .where(self.model.id == id_)
            .with_for_update(read=not exclusive)
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(statement)


class ProductRepository(CatalogRepository):
    model = Product
    level_column = StockLevel.product_id

    async def lock_many(
        self, ids: Collection[uuid.UUID], *, exclusive: bool = False
    ) -> dict[uuid.UUID, ProductState]:
        """Several products locked FOR SHARE (as `get_locked(exclusive=False)` each), or
        `exclusive`ly against postings (FOR NO KEY UPDATE), in id order and one statement:
        those that exist, by id."""
        if not ids:
            return {}
        statement = _PRODUCTS_HELD if exclusive else _PRODUCTS_LOCKED
        rows = await self.session.execute(statement, {"ids": sorted(set(ids))})
        return {row.id: ProductState(row.reorder_point, row.is_archived) for row in rows}

    async def get(self, id_: uuid.UUID) -> ProductRead | None:
        """The item as clients read it (a read schema, not an entity)."""
        rows = await fetch(self.session, _PRODUCT_BY_ID, {"id": id_})
        return ProductRead.model_validate(rows[0]) if rows else None

    def list_statement(self, filters: ProductFilter) -> Select[Any]:
        statement = _PRODUCT_COLUMNS
        if filters.sku is not None:
            # The expression of the unique index uq_products_sku_lower: one row at most.
            statement = statement.where(func.lower(Product.sku) == filters.sku.lower())
        if filters.is_archived is not None:
            statement = statement.where(Product.is_archived.is_(filters.is_archived))
        if filters.barcode is not None:
            # The lookup table's primary key (barcode, product_id): archived products too.
            holders = select(ProductBarcode.product_id).where(
                ProductBarcode.barcode == gtin14(filters.barcode)
            )
            statement = statement.where(Product.id.in_(holders))
        if filters.q:
            # ix_products_search_trgm; the term folded in SQL as search_text was.
            statement = statement.where(folded_contains(filters.q, Product.search_text))
        if filters.low_stock is not None:
            # A correlated subquery per product row (an index range on pk_stock_levels), so
            # the sort index still drives keyset paging; one statement, no query per product.
            below = Product.reorder_point > available_across_locations(Product.id)
            if filters.low_stock:
                # Redundant, but cheap and tried first: a reorder point of 0 is never
                # undercut, so those rows skip the subquery.
                statement = statement.where(Product.reorder_point > 0, below)
            else:
                statement = statement.where(~below)
        return statement

    async def list_page(
        self, filters: ProductFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[ProductRead]:
        order = PRODUCT_SORTS[filters.sort]
        statement = self.list_statement(filters)
        return await keyset_page(
            self.session,
            statement,
            scope=f"products:{order.name}",
            order=order,
            codec=codec,
            cursor=cursor,
            limit=limit,
            into=ProductRead,
            # Unfiltered (the usual listing), the statement is the one built once.
            reuse=statement is _PRODUCT_COLUMNS,
        )


class LocationRepository(CatalogRepository):
    model = Location
    level_column = StockLevel.location_id

    async def get(self, id_: uuid.UUID) -> LocationRead | None:
        """The item as clients read it (a read schema, not an entity)."""
        rows = await fetch(self.session, _LOCATION_BY_ID, {"id": id_})
        return LocationRead.model_validate(rows[0]) if rows else None

    def list_statement(self, filters: LocationFilter) -> Select[Any]:
        statement = _LOCATION_COLUMNS
        if filters.code is not None:
            # The expression of the unique index uq_locations_code_lower: one row at most.
            statement = statement.where(func.lower(Location.code) == filters.code.lower())
        if filters.is_archived is not None:
            statement = statement.where(Location.is_archived.is_(filters.is_archived))
        return statement

    async def list_page(
        self, filters: LocationFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[LocationRead]:
        return await keyset_page(
            self.session,
            self.list_statement(filters),
            scope="locations:created_at",
            order=LOCATIONS_BY_CREATED,
            codec=codec,
            cursor=cursor,
            limit=limit,
            into=LocationRead,
        )

    async def transit(self) -> tuple[uuid.UUID, bool]:
        """The transit location's id, created by the first caller (so its `location.created`
        event is emitted once): (id, created by this call)."""
        created = await self.session.scalar(
            insert(Location)
            .values(id=new_id(), code=TRANSIT_CODE, name="In transit", is_transit=True)
            .on_conflict_do_nothing(
                index_elements=[Location.is_transit], index_where=text("is_transit")
            )
            .returning(Location.id)
        )
        if created is not None:
            return created, True
        existing = await self.session.scalar(select(Location.id).where(Location.is_transit))
        if existing is None:  # the unique index admits exactly one
            raise RuntimeError("no transit location, and none could be created")
        return existing, False
