"""The audit log: changes outside the ledger and security events, with their authors.

Revision ID: 0015_audit_log
Revises: 0014_actors
Create Date: 2026-12-07 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_audit_log"
down_revision: str | Sequence[str] | None = "0014_actors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("client_ip", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_at_id", "audit_entries", ["at", "id"])
    op.create_index("ix_audit_entries_action_at_id", "audit_entries", ["action", "at", "id"])
    op.create_index(
        "ix_audit_entries_entity_at_id",
        "audit_entries",
        ["entity_id", "entity_type", "at", "id"],
    )
    op.create_index(
        "ix_audit_entries_actor_id_at_id",
        "audit_entries",
        [sa.text("(actor ->> 'id')"), "at", "id"],
    )


def downgrade() -> None:
    op.drop_table("audit_entries")
