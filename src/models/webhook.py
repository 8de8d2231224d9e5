"""Webhooks: endpoints that receive the change feed, and the outbox of their deliveries.

A delivery is one event for one endpoint, created from the event log by the dispatcher
(`src.services.webhook_dispatch`), which keeps its place in the log in `webhook_dispatcher`:
an event committed while no process ran is dispatched when one starts. Workers claim due
deliveries (`FOR UPDATE SKIP LOCKED`) and lease them for the length of one attempt, so
several processes share the queue and a worker that dies mid-attempt only delays a retry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, Timestamps, UUIDPrimaryKey
from src.models.event import XID8
from src.models.stock import enum_column


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2048))
    # Empty: every type.
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    # The signing secret, encrypted with a key derived from SECRET_KEY (src.core.secretbox):
    # a database dump alone cannot sign. During a rotation's overlap the previous one signs
    # too, until `previous_secret_expires_at`.
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Where in the feed its deliveries begin: set by the dispatcher when it first meets the
    # endpoint (or meets it again after a pause), to the position it had reached then; so
    # every event committed after the endpoint is delivered to it.
    start_xid: Mapped[int | None] = mapped_column(XID8(), default=None)
    start_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # When the current run of failures began (none since the last success: null); five
    # days of it disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class WebhookDelivery(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The dispatcher may meet an event twice (a crash before it moved its position): the
        # second delivery is not created.
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_valid"),
        CheckConstraint(
            "(status = 'pending') = (next_attempt_at IS NOT NULL)", name="pending_is_scheduled"
        ),
        # Workers' claim: the due ones, soonest first; the index holds only the queue.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # An endpoint's delivery log, newest first.
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    # The `webhook-id` header: the event's id in the feed (or a test event's own id).
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    # The body as sent, byte for byte on every retry (kept past the event log's retention).
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failed attempts since the delivery was (re)queued: the place in the retry schedule.
    step: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # While an attempt runs: when its lease ends (a dead worker's attempt is retried then).
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDispatcher(Base):
    """One row: the feed position up to which events have become deliveries."""

    __tablename__ = "webhook_dispatcher"
    __table_args__ = (CheckConstraint("singleton", name="singleton"),)

    singleton: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    xid: Mapped[int] = mapped_column(XID8())
    seq: Mapped[int] = mapped_column(BigInteger)
