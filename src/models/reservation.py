"""Reservations: stock promised to an order, held on its level until fulfilled, released or
expired.

A level's `reserved` is the sum of `remaining` over its active reservations; both change
together, in the same transaction, always with the level's row locked first (see
`src.services.reservation`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, Timestamps, UUIDPrimaryKey
from src.models.stock import enum_column


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    FULFILLED = "fulfilled"
    RELEASED = "released"
    EXPIRED = "expired"


class Reservation(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "remaining >= 0 AND remaining <= quantity", name="remaining_within_quantity"
        ),
        CheckConstraint(
            "status IN ('active', 'fulfilled', 'released', 'expired')", name="status_valid"
        ),
        # An active reservation holds something; a fulfilled one holds nothing more.
        CheckConstraint("status <> 'active' OR remaining > 0", name="active_holds_stock"),
        CheckConstraint("status <> 'fulfilled' OR remaining = 0", name="fulfilled_holds_nothing"),
        # The sweeper's scan: only active ones, soonest expiry first.
        Index(
            "ix_reservations_active_expires_at",
            "expires_at",
            postgresql_where=text("status = 'active'"),
        ),
        # A level's active reservations, newest first (a count shrinks those first).
        Index(
            "ix_reservations_level_active",
            "product_id",
            "location_id",
            "created_at",
            postgresql_where=text("status = 'active'"),
        ),
        # The list, newest first, whole or by product or location.
        Index("ix_reservations_created_at_id", "created_at", "id"),
        Index("ix_reservations_product_created_id", "product_id", "created_at", "id"),
        Index("ix_reservations_location_created_id", "location_id", "created_at", "id"),
        # An allocation's picks (partial: most reservations belong to none).
        Index(
            "ix_reservations_allocation_id",
            "allocation_id",
            postgresql_where=text("allocation_id IS NOT NULL"),
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    # What the reservation still holds while active (what it held when it ended otherwise).
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ReservationStatus] = mapped_column(
        enum_column(ReservationStatus, "reservation_status"), default=ReservationStatus.ACTIVE
    )
    expires_at: Mapped[datetime]
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Who made it (`Actor.as_json()`): a request always has an author, so never null.
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # A pick of an allocation: it moves only through the allocation (fulfil, release, extend).
    allocation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("allocations.id"), default=None
    )
    allocation_line_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("allocation_lines.id"), default=None
    )
