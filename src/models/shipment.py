"""Shipments: transfers whose stock spends days on the road.

The stock leaves the source at once into the transit location (a real place in the ledger,
so "on_hand = sum of the ledger" and reconciliation cover stock on its way), shows as
`incoming` on the destination's level, and arrives by receipts. Each line keeps what was
shipped, received, damaged and canceled; `pending` is what is still on its way.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from src.models.base import Base, Timestamps, UUIDPrimaryKey
from src.models.stock import enum_column


class ShipmentStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    PARTIALLY_RECEIVED = "partially_received"
    COMPLETED = "completed"
    CANCELED = "canceled"


class Shipment(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint("from_location_id <> to_location_id", name="two_locations"),
        CheckConstraint(
            "status IN ('in_transit', 'partially_received', 'completed', 'canceled')",
            name="status_valid",
        ),
        Index("ix_shipments_created_at_id", "created_at", "id"),
        Index("ix_shipments_from_created_id", "from_location_id", "created_at", "id"),
        Index("ix_shipments_to_created_id", "to_location_id", "created_at", "id"),
    )

    from_location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[ShipmentStatus] = mapped_column(
        enum_column(ShipmentStatus, "shipment_status", length=24),
        default=ShipmentStatus.IN_TRANSIT,
    )
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Who made it (`Actor.as_json()`): a request always has an author, so never null.
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)

    lines: Mapped[list[ShipmentLine]] = relationship(order_by="ShipmentLine.position", lazy="raise")


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"
    __table_args__ = (
        CheckConstraint("shipped > 0", name="shipped_positive"),
        CheckConstraint(
            "received >= 0 AND damaged >= 0 AND canceled >= 0", name="parts_non_negative"
        ),
        # Never more arrives, is written off or is called back than was sent.
        CheckConstraint("received + damaged + canceled <= shipped", name="parts_within_shipped"),
        # A product's pending units, on every shipment, for reconciliation and `incoming`.
        Index("ix_shipment_lines_product_id", "product_id"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), primary_key=True)
    # The line's place in the request, so a shipment reads back in the order it was sent.
    position: Mapped[int]
    shipped: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    damaged: Mapped[int] = mapped_column(BigInteger, default=0)
    canceled: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def pending(self) -> int:
        return self.shipped - self.received - self.damaged - self.canceled
