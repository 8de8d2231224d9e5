"""Queries over shipments and their lines (loaded with their shipment, never one by one)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from src.core.cursors import CursorCodec
from src.models.shipment import Shipment
from src.repositories.base import PageResult, Repository, SortOrder
from src.schemas.filters import ShipmentFilter

NEWEST_FIRST = SortOrder("newest", (Shipment.created_at, Shipment.id), descending=True)


class ShipmentRepository(Repository[Shipment]):
    model = Shipment

    async def get(self, id_: uuid.UUID) -> Shipment | None:
        return await self.session.scalar(
            select(Shipment)
            .where(Shipment.id == id_)
            .options(selectinload(Shipment.lines))
            .execution_options(populate_existing=True)
        )

    async def get_for_update(self, id_: uuid.UUID) -> Shipment | None:
        """Locked FOR UPDATE: receipts and cancellations of one shipment go one at a time."""
        return await self.session.scalar(
            select(Shipment)
            .where(Shipment.id == id_)
            .with_for_update(of=Shipment)
            .options(selectinload(Shipment.lines))
            .execution_options(populate_existing=True)
        )

    def list_statement(self, filters: ShipmentFilter) -> Select[Any]:
        statement = select(Shipment).options(selectinload(Shipment.lines))
        if filters.status is not None:
            statement = statement.where(Shipment.status == filters.status)
        if filters.from_location_id:
            statement = statement.where(Shipment.from_location_id.in_(filters.from_location_id))
        if filters.to_location_id:
            statement = statement.where(Shipment.to_location_id.in_(filters.to_location_id))
        return statement

    async def page(
        self, filters: ShipmentFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[Shipment]:
        """A page of shipments with their lines: two statements, whatever the page size."""
        return await self.paginate(
            self.list_statement(filters),
            order=NEWEST_FIRST,
            codec=codec,
            cursor=cursor,
            limit=limit,
        )
