"""Reading stock: the ledger, current and past levels, and reconciliation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.cursors import CursorCodec
from src.core.exceptions import NotFound
from src.models.stock import Movement
from src.repositories.base import PageResult
from src.repositories.reconciliation import ReconciliationRepository
from src.repositories.stock.availability import AvailabilityRepository
from src.repositories.stock.read import StockRepository
from src.schemas.filter import AvailabilityQuery, LevelFilter, MovementFilter
from src.schemas.stock import (
    LocationStock,
    Mismatch,
    MovementRead,
    ProductStockRead,
    ReconciliationRead,
    StockLevelRead,
)


class LedgerService:
    def __init__(self, session: AsyncSession) -> None:
        self.stock = StockRepository(session)

    async def movements(
        self, filters: MovementFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[MovementRead]:
        return await self.stock.movements_page(filters, codec=codec, cursor=cursor, limit=limit)

    async def movement(self, movement_id: uuid.UUID) -> Movement:
        movement = await self.stock.movement(movement_id)
        if movement is None:
            raise NotFound("No movement with this id")
        return movement

    async def levels(
        self, filters: LevelFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> tuple[list[StockLevelRead], str | None]:
        page = await self.stock.levels_page(filters, codec=codec, cursor=cursor, limit=limit)
        return page.items, page.next_cursor

    async def product_stock(self, product_id: uuid.UUID) -> ProductStockRead:
        levels = await self.stock.product_levels(product_id)
        if levels is None:
            raise NotFound("No product with this id")
        locations = [
            LocationStock(
                location_id=level.location_id,
                on_hand=level.on_hand,
                reserved=level.reserved,
                available=level.on_hand - level.reserved,
                incoming=level.incoming,
            )
            for level in levels
        ]
        return ProductStockRead(
            product_id=product_id,
            on_hand=sum(level.on_hand for level in locations),
            reserved=sum(level.reserved for level in locations),
            available=sum(level.available for level in locations),
            incoming=sum(level.incoming for level in locations),
            locations=locations,
        )

    async def availability(self, query: AvailabilityQuery) -> str:
        """The JSON text of the AvailabilityList (built by the statement): each asked
        product in the asked order, archived ones too (their stock is real). The first
        unknown one asked is a 404 naming it."""
        body, missing = await AvailabilityRepository(self.stock.session).availability(
            query.product_id, query.sku, query.location_id
        )
        if missing is not None:
            raise NotFound(f"No product with {missing}")
        return body

    async def reconcile(self) -> ReconciliationRead:
        checked, rows = await ReconciliationRepository(self.stock.session).reconcile()
        return ReconciliationRead(
            checked=checked, mismatches=[Mismatch.model_validate(row) for row in rows]
        )
