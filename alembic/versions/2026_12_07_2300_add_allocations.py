"""Allocations: an order's stock held at once, one reservation per pick.

Revision ID: 0016_allocations
Revises: 0015_audit_log
Create Date: 2026-12-07 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_allocations"
down_revision: str | Sequence[str] | None = "0015_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "allocations",
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("actor", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('active', 'partially_fulfilled', 'fulfilled', 'released', 'expired')",
            name=op.f("ck_allocations_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_allocations_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    op.create_index("ix_allocations_created_at_id", "allocations", ["created_at", "id"])
    op.create_index(
        "ix_allocations_reference_created_id", "allocations", ["reference", "created_at", "id"]
    )
    op.create_index(
        "ix_allocations_status_created_id", "allocations", ["status", "created_at", "id"]
    )
    op.create_table(
        "allocation_lines",
        sa.Column("allocation_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("fulfilled", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_allocation_lines_quantity_positive")),
        sa.CheckConstraint(
            "fulfilled >= 0 AND fulfilled <= quantity",
            name=op.f("ck_allocation_lines_fulfilled_within"),
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_allocation_lines_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_allocation_lines_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_allocation_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_lines")),
    )
    op.create_index(
        "ix_allocation_lines_allocation_position",
        "allocation_lines",
        ["allocation_id", "position"],
        unique=True,
    )
    op.add_column("reservations", sa.Column("allocation_id", sa.Uuid(), nullable=True))
    op.add_column("reservations", sa.Column("allocation_line_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_reservations_allocation_id_allocations"),
        "reservations",
        "allocations",
        ["allocation_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_reservations_allocation_line_id_allocation_lines"),
        "reservations",
        "allocation_lines",
        ["allocation_line_id"],
        ["id"],
    )
    op.create_index(
        "ix_reservations_allocation_id",
        "reservations",
        ["allocation_id"],
        postgresql_where=sa.text("allocation_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_reservations_allocation_id", table_name="reservations")
    op.drop_constraint(
        op.f("fk_reservations_allocation_line_id_allocation_lines"),
        "reservations",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_reservations_allocation_id_allocations"), "reservations", type_="foreignkey"
    )
    op.drop_column("reservations", "allocation_line_id")
    op.drop_column("reservations", "allocation_id")
    op.drop_table("allocation_lines")
    op.drop_table("allocations")
