"""The change feed's durable event log, written in the transaction of the change it describes.

Order is `(xid, seq)`: `xid` is the writing transaction's id (`pg_current_xact_id()`, xid8),
`seq` an identity. A reader only takes events whose `xid` is below the oldest transaction
still running (`pg_snapshot_xmin`), so no later commit can land before a position it has
read; events of one transaction share an xid and become visible together.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Identity, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from src.models.base import Base


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id. asyncpg reads and binds it as a Python int."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "XID8"

    def literal_processor(self, dialect: Any) -> Any:
        # For SQL compiled with its values inlined (EXPLAIN in the tests).
        return lambda value: f"'{int(value)}'::xid8"


# Reflection (Alembic's model/migration comparison) knows the type by this name.
ischema_names.setdefault("xid8", XID8)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # Serves the feed's keyset read `(xid, seq) > (…) ORDER BY xid, seq`.
        Index("ix_events_xid_seq", "xid", "seq"),
        # /stock/events resumes from a movement's position; partial, as most events have none.
        Index(
            "uq_events_movement_id",
            "movement_id",
            unique=True,
            postgresql_where=text("movement_id IS NOT NULL"),
        ),
        # Retention purges by age.
        Index("ix_events_occurred_at", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    xid: Mapped[int] = mapped_column(XID8(), server_default=func.pg_current_xact_id())
    type: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    movement_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # Who made the change (`Actor.as_json()`); null for background work no one asked for
    # (reservation expiry) and for events written before actors were recorded.
    actor: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)


class EventWatermark(Base):
    """One row: the highest position the retention purge has deleted. A cursor before it
    has lost events (410 cursor-expired); no row means nothing was purged yet."""

    __tablename__ = "event_watermark"
    __table_args__ = (CheckConstraint("singleton", name="singleton"),)

    singleton: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    xid: Mapped[int] = mapped_column(XID8())
    seq: Mapped[int] = mapped_column(BigInteger)
    purged_at: Mapped[datetime] = mapped_column(server_default=func.now())
