"""Add the change feed's event log (ordered by writing transaction id, then sequence) and
the retention purge's watermark.

Revision ID: 0006_event_log
Revises: 0005_session_expiry
Create Date: 2026-12-01 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_event_log"
down_revision: str | Sequence[str] | None = "0005_session_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class XID8(sa.types.UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (kept here so the revision never changes)."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("xid", XID8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("movement_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
    )
    op.create_index("ix_events_xid_seq", "events", ["xid", "seq"], unique=False)
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"], unique=False)
    op.create_index(
        "uq_events_movement_id",
        "events",
        ["movement_id"],
        unique=True,
        postgresql_where=sa.text("movement_id IS NOT NULL"),
    )
    op.create_table(
        "event_watermark",
        sa.Column("singleton", sa.Boolean(), nullable=False),
        sa.Column("xid", XID8(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "purged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("singleton", name=op.f("ck_event_watermark_singleton")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_event_watermark")),
    )


def downgrade() -> None:
    op.drop_table("event_watermark")
    op.drop_index("uq_events_movement_id", table_name="events")
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_index("ix_events_xid_seq", table_name="events")
    op.drop_table("events")
