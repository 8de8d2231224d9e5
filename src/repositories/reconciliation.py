"""Reconciliation: every level recomputed from what explains it, in one statement.

A level's `on_hand` is the sum of its ledger; its `reserved` what its active reservations
hold; its `incoming` what shipments to it still have pending; and the transit location holds
exactly what all shipments have pending. Any level where one of these differs is listed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.catalog import Location
from src.models.reservation import Reservation, ReservationStatus
from src.models.shipment import Shipment, ShipmentLine
from src.models.stock import Movement, StockLevel
from src.repositories.base import OperationLabels

_PENDING = (
    ShipmentLine.shipped - ShipmentLine.received - ShipmentLine.damaged - ShipmentLine.canceled
)


def _explained() -> Any:
    """Per level: what it says, and what its ledger, reservations and shipments say."""
    ledger = (
        select(Movement.product_id, Movement.location_id, func.sum(Movement.quantity).label("n"))
        .group_by(Movement.product_id, Movement.location_id)
        .subquery()
    )
    held = (
        select(
            Reservation.product_id,
            Reservation.location_id,
            func.sum(Reservation.remaining).label("n"),
        )
        .where(Reservation.status == ReservationStatus.ACTIVE)
        .group_by(Reservation.product_id, Reservation.location_id)
        .subquery()
    )
    pending_to = (
        select(
            ShipmentLine.product_id,
            Shipment.to_location_id.label("location_id"),
            func.sum(_PENDING).label("n"),
        )
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .group_by(ShipmentLine.product_id, Shipment.to_location_id)
        .subquery()
    )
    transit = select(Location.id).where(Location.is_transit).scalar_subquery()
    in_transit = (
        select(
            ShipmentLine.product_id,
            transit.label("location_id"),
            func.sum(_PENDING).label("n"),
        )
        .group_by(ShipmentLine.product_id)
        .subquery()
    )

    def on_level(sub: Any) -> Any:
        return (sub.c.product_id == StockLevel.product_id) & (
            sub.c.location_id == StockLevel.location_id
        )

    return (
        select(
            func.coalesce(StockLevel.product_id, ledger.c.product_id).label("product_id"),
            func.coalesce(StockLevel.location_id, ledger.c.location_id).label("location_id"),
            StockLevel.on_hand.label("on_hand"),
            func.coalesce(ledger.c.n, 0).label("ledger"),
            func.coalesce(StockLevel.reserved, 0).label("reserved"),
            func.coalesce(held.c.n, 0).label("held"),
            func.coalesce(StockLevel.incoming, 0).label("incoming"),
            func.coalesce(pending_to.c.n, 0).label("pending_to_here"),
            # Only on the transit location's levels: every shipment's pending units.
            in_transit.c.n.label("pending_in_transit"),
        )
        .select_from(StockLevel)
        .join(ledger, on_level(ledger), full=True)
        .outerjoin(held, on_level(held))
        .outerjoin(pending_to, on_level(pending_to))
        .outerjoin(in_transit, on_level(in_transit))
        .subquery()
    )


class ReconciliationRepository(OperationLabels):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reconcile(self) -> tuple[int, list[Any]]:
        """(levels checked, the levels where something differs)."""
        levels = _explained()
        checked = await self.session.scalar(select(func.count()).select_from(levels))
        wrong = (
            (func.coalesce(levels.c.on_hand, 0) != levels.c.ledger)
            | (levels.c.reserved != levels.c.held)
            | (levels.c.incoming != levels.c.pending_to_here)
            | (
                levels.c.pending_in_transit.is_not(None)
                & (func.coalesce(levels.c.on_hand, 0) != levels.c.pending_in_transit)
            )
        )
        mismatches = await self.session.execute(
            select(levels).where(wrong).order_by(levels.c.product_id, levels.c.location_id)
        )
        return int(checked or 0), list(mismatches.all())
