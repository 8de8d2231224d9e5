"""Stock: current levels, the append-only ledger of movements, and idempotency records.

The invariants live in the database too: CHECK (on_hand >= 0), a trigger that rejects UPDATE
and DELETE on movements (created in the migration), and per-kind CHECKs on movements.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, UUIDPrimaryKey


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ISSUE = "issue"
    ADJUSTMENT = "adjustment"


class AdjustmentReason(StrEnum):
    COUNT = "count"
    DAMAGE = "damage"
    LOSS = "loss"
    FOUND = "found"
    CORRECTION = "correction"
    OTHER = "other"


def enum_column(kind: type[StrEnum], name: str, *, length: int = 16) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        # The contract bounds quantities at 1e12; so is what one level may hold, which keeps
        # every count adjustment within the bound too.
        CheckConstraint("on_hand <= 1000000000000", name="on_hand_within_bounds"),
        # Held for active reservations: never more than is on hand, so available >= 0.
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        # On its way here in shipments (not on hand yet).
        CheckConstraint("incoming >= 0", name="incoming_non_negative"),
        # Serves ?location_id= in key order (location_id, then product_id) without a sort.
        Index("ix_stock_levels_location_product", "location_id", "product_id"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), primary_key=True)
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    incoming: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Movement(UUIDPrimaryKey, Base):
    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_non_zero"),
        CheckConstraint(
            "quantity BETWEEN -1000000000000 AND 1000000000000", name="quantity_within_bounds"
        ),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        CheckConstraint("kind IN ('receipt', 'issue', 'adjustment')", name="kind_valid"),
        CheckConstraint(
            "(kind = 'receipt' AND quantity > 0) OR (kind = 'issue' AND quantity < 0)"
            " OR (kind = 'adjustment' AND reason IS NOT NULL)",
            name="quantity_sign_matches_kind",
        ),
        CheckConstraint(
            "reason IS NULL OR reason IN "
            "('count', 'damage', 'loss', 'found', 'correction', 'other')",
            name="reason_valid",
        ),
        Index("ix_stock_movements_created_at_id", "created_at", "id"),
        Index("ix_stock_movements_product_created_id", "product_id", "created_at", "id"),
        Index("ix_stock_movements_location_created_id", "location_id", "created_at", "id"),
        Index(
            "ix_stock_movements_product_location_created_id",
            "product_id",
            "location_id",
            "created_at",
            "id",
        ),
        # Partial: most movements belong to no transfer, count or batch, so these stay small and
        # cost nothing on plain postings.
        Index(
            "ix_stock_movements_transfer_id",
            "transfer_id",
            postgresql_where=text("transfer_id IS NOT NULL"),
        ),
        Index(
            "ix_stock_movements_count_id", "count_id", postgresql_where=text("count_id IS NOT NULL")
        ),
        Index(
            "ix_stock_movements_batch_id", "batch_id", postgresql_where=text("batch_id IS NOT NULL")
        ),
        Index(
            "ix_stock_movements_reservation_id",
            "reservation_id",
            postgresql_where=text("reservation_id IS NOT NULL"),
        ),
        Index(
            "ix_stock_movements_shipment_id",
            "shipment_id",
            postgresql_where=text("shipment_id IS NOT NULL"),
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[MovementKind] = mapped_column(enum_column(MovementKind, "movement_kind"))
    # Signed delta applied to the level; balance_after is the level right after it.
    quantity: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[AdjustmentReason | None] = mapped_column(
        enum_column(AdjustmentReason, "adjustment_reason"), default=None
    )
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    count_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # The batch (`POST /stock/batches`) the movement was posted in.
    batch_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # The reservation an issue fulfilled.
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reservations.id"), default=None
    )
    # The shipment a movement sent, received, wrote off or returned.
    shipment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shipments.id"), default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Who made it (`Actor.as_json()`): a request always has an author, so never null.
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    # clock_timestamp(), not now(): the moment of the insert (the last step before commit),
    # so ledger order follows commit order closely enough for Last-Event-ID resumption.
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())


class IdempotencyRecord(Base):
    """A completed POST under /stock, kept so a retry replays the same bytes."""

    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_records_created_at", "created_at"),)

    # The caller's id: a user's or an API client's (random UUIDs never collide), so no
    # foreign key to either table.
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    # Raw bytes, not JSONB: JSONB would reorder keys, and a replay must be byte-for-byte.
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    location: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
