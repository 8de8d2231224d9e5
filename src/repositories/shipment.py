"""Queries over shipments and their lines (loaded with their shipment, never one by one)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, UUID
from sqlalchemy.orm import make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from src.core.cursors import CursorCodec
from src.models.shipment import Shipment, ShipmentLine
from src.repositories.base import PageResult, Repository, SortOrder
from src.repositories.unnest import columns_of, insert_rows
from src.schemas.filter import ShipmentFilter

NEWEST_FIRST = SortOrder("newest", (Shipment.created_at, Shipment.id), descending=True)


# A shipment's lines' figures written in one statement, whatever the line count.
_WRITE_LINES = text(
    """
    UPDATE shipment_lines AS l
    SET received = d.received, damaged = d.damaged, canceled = d.canceled
    FROM unnest(
        CAST(:products AS uuid[]), CAST(:received AS bigint[]), CAST(:damaged AS bigint[]),
        CAST(:canceled AS bigint[])
    ) AS d(product_id, received, damaged, canceled)
    WHERE l.shipment_id = :shipment_id AND l.product_id = d.product_id
    """
).bindparams(
    bindparam("products", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("received", type_=ARRAY(BIGINT)),
    bindparam("damaged", type_=ARRAY(BIGINT)),
    bindparam("canceled", type_=ARRAY(BIGINT)),
    bindparam("shipment_id", type_=UUID(as_uuid=True)),
)
# Every column of a shipment's line (one array each when its lines are inserted).
_LINE_COLUMNS = tuple(column.name for column in ShipmentLine.__table__.c)


@dataclass(frozen=True, slots=True)
class LineChange:
    """What a receipt or cancellation adds to one line."""

    line: ShipmentLine
    received: int = 0
    damaged: int = 0
    canceled: int = 0


class ShipmentRepository(Repository[Shipment]):
    model = Shipment

    async def get(self, id_: uuid.UUID) -> Shipment | None:
        return await self.session.scalar(
            select(Shipment)
            .where(Shipment.id == id_)
            .options(selectinload(Shipment.lines))
            .execution_options(populate_existing=True)
        )

    async def add_with_lines(self, shipment: Shipment, lines: list[ShipmentLine]) -> None:
        """Insert a new shipment (without lines of its own), then its lines in one statement
        whose SQL is the same whatever their number (`src.repositories.unnest`), not one
        INSERT each; the session then holds them as its lines, as written."""
        self.session.add(shipment)
        await self.session.flush()
        for line in lines:
            line.shipment_id = shipment.id
            line.received = line.damaged = line.canceled = 0
        rows = [{name: getattr(line, name) for name in _LINE_COLUMNS} for line in lines]
        await self.session.execute(
            insert_rows(ShipmentLine.__table__, _LINE_COLUMNS), columns_of(rows, _LINE_COLUMNS)
        )
        for line in lines:
            make_transient_to_detached(line)
            self.session.add(line)
        set_committed_value(shipment, "lines", lines)

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

    async def add_to_lines(self, shipment: Shipment, changes: list[LineChange]) -> None:
        """Add to lines' figures in one statement, not one UPDATE each (the lines untouched
        in memory until then, so the session has nothing of theirs to flush); the session
        then holds them as written."""
        if not changes:
            return
        figures = [
            (
                change.line,
                change.line.received + change.received,
                change.line.damaged + change.damaged,
                change.line.canceled + change.canceled,
            )
            for change in changes
        ]
        await self.session.execute(
            _WRITE_LINES,
            {
                "shipment_id": shipment.id,
                "products": [line.product_id for line, *_ in figures],
                "received": [received for _, received, _, _ in figures],
                "damaged": [damaged for _, _, damaged, _ in figures],
                "canceled": [canceled for *_, canceled in figures],
            },
        )
        for line, received, damaged, canceled in figures:
            set_committed_value(line, "received", received)
            set_committed_value(line, "damaged", damaged)
            set_committed_value(line, "canceled", canceled)
