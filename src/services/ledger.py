"""Reading stock: the ledger, current and past levels, and reconciliation."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.cursors import CursorCodec
from src.core.exceptions import NotFound
from src.models.stock import Movement, MovementKind
from src.repositories.base import PageResult
from src.repositories.catalog import ProductRepository
from src.repositories.stock import StockRepository
from src.schemas.stock import (
    LocationStock,
    Mismatch,
    ProductStockRead,
    ReconciliationRead,
    StockLevelRead,
)


class LedgerService:
    def __init__(self, session: AsyncSession) -> None:
        self.stock = StockRepository(session)
        self.products = ProductRepository(session)

    async def movements(
        self,
        *,
        product_id: uuid.UUID | None,
        location_id: uuid.UUID | None,
        kind: MovementKind | None,
        since: datetime | None,
        until: datetime | None,
        transfer_id: uuid.UUID | None,
        count_id: uuid.UUID | None,
        codec: CursorCodec,
        cursor: str | None,
        limit: int,
    ) -> PageResult[Movement]:
        return await self.stock.movements_page(
            product_id=product_id,
            location_id=location_id,
            kind=kind,
            since=since,
            until=until,
            transfer_id=transfer_id,
            count_id=count_id,
            codec=codec,
            cursor=cursor,
            limit=limit,
        )

    async def movement(self, movement_id: uuid.UUID) -> Movement:
        movement = await self.stock.movement(movement_id)
        if movement is None:
            raise NotFound("No movement with this id")
        return movement

    async def levels(
        self,
        *,
        product_id: uuid.UUID | None,
        location_id: uuid.UUID | None,
        below_reorder: bool,
        as_of: datetime | None,
        codec: CursorCodec,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[StockLevelRead], str | None]:
        # Current levels, or levels summed from the ledger up to `as_of`: same filters, same page.
        fetch = (
            self.stock.levels_page
            if as_of is None
            else functools.partial(self.stock.levels_as_of_page, as_of=as_of)
        )
        page = await fetch(
            product_id=product_id,
            location_id=location_id,
            below_reorder=below_reorder,
            codec=codec,
            cursor=cursor,
            limit=limit,
        )
        return [StockLevelRead.model_validate(level) for level in page.items], page.next_cursor

    async def product_stock(self, product_id: uuid.UUID) -> ProductStockRead:
        if await self.products.get(product_id) is None:
            raise NotFound("No product with this id")
        levels = await self.stock.product_levels(product_id)
        return ProductStockRead(
            product_id=product_id,
            on_hand=sum(level.on_hand for level in levels),
            locations=[LocationStock.model_validate(level) for level in levels],
        )

    async def reconcile(self) -> ReconciliationRead:
        checked, rows = await self.stock.reconcile()
        return ReconciliationRead(
            checked=checked, mismatches=[Mismatch.model_validate(row) for row in rows]
        )
