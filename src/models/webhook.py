"""Webhooks: endpoints that receive the change feed, and the outbox of their deliveries.

A delivery is one event for one endpoint, created from the event log by the dispatcher
(`src.services.webhook.dispatch`). Each endpoint keeps its own place in the log, so an event
committed while no process ran is dispatched when one starts, and a new endpoint gets exactly
the events after its creation. Workers claim due
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
    # The feed position up to which its deliveries exist: at creation (and re-enabling) the
    # newest visible event; the dispatcher moves it as it creates deliveries.
    position_xid: Mapped[int] = mapped_column(XID8())
    position_seq: Mapped[int] = mapped_column(BigInteger)
    # When the current run of failures began (none since the last success: null); five
    # days of it disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class WebhookDelivery(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per event and endpoint, whatever happens to the dispatcher.
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_valid"),
        CheckConstraint(
            "(status = 'pending') = (next_attempt_at IS NOT NULL)", name="pending_is_scheduled"
        ),
        # Workers' claim: per endpoint, the due ones, soonest first (the claim takes a few
        # of each endpoint's, so one endpoint's backlog cannot starve the others); the index
        # holds only the queue.
        Index(
            "ix_webhook_deliveries_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # The attempts running now (leased), counted per endpoint by the claim.
        Index(
            "ix_webhook_deliveries_claimed",
            "endpoint_id",
            postgresql_where=text("claimed_until IS NOT NULL"),
        ),
        # The purge of finished deliveries past retention.
        Index(
            "ix_webhook_deliveries_finished_updated_at",
            "updated_at",
            postgresql_where=text("status <> 'pending'"),
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
