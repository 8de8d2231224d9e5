"""Allocations: the stock for a whole order, held at once as one reservation per pick.

An allocation's lines say what the order needs (`quantity`) and how much of it left the
building (`fulfilled`); its picks are reservations (`reservations.allocation_line_id`), so a
level's `reserved` and `available` already count them and every reservation rule (expiry,
counts, the sweeper) applies to them. The allocation's `status` is kept true by
`src.services.allocation.settle` on every path that ends or shrinks a pick.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, Timestamps, UUIDPrimaryKey
from src.models.stock import enum_column


class AllocationStatus(StrEnum):
    ACTIVE = "active"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    RELEASED = "released"
    EXPIRED = "expired"


# Statuses in which an allocation still holds stock (and may be fulfilled, released, extended).
OPEN_STATUSES = frozenset({AllocationStatus.ACTIVE, AllocationStatus.PARTIALLY_FULFILLED})


class Allocation(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'partially_fulfilled', 'fulfilled', 'released', 'expired')",
            name="status_valid",
        ),
        # The list, newest first, whole or by reference or status.
        Index("ix_allocations_created_at_id", "created_at", "id"),
        Index("ix_allocations_reference_created_id", "reference", "created_at", "id"),
        Index("ix_allocations_status_created_id", "status", "created_at", "id"),
    )

    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[AllocationStatus] = mapped_column(
        enum_column(AllocationStatus, "allocation_status", length=24),
        default=AllocationStatus.ACTIVE,
    )
    # Every pick's `expires_at` is this one (created and extended together).
    expires_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Who made it (`Actor.as_json()`): a request always has an author, so never null.
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)


class AllocationLine(UUIDPrimaryKey, Base):
    __tablename__ = "allocation_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("fulfilled >= 0 AND fulfilled <= quantity", name="fulfilled_within"),
        CheckConstraint("position >= 0", name="position_non_negative"),
        Index("ix_allocation_lines_allocation_position", "allocation_id", "position", unique=True),
    )

    allocation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("allocations.id"))
    # The line's place in the request (from 0): lines are shown in this order.
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    # Units issued through the allocation's fulfilments.
    fulfilled: Mapped[int] = mapped_column(BigInteger, default=0)
