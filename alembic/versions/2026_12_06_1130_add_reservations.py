"""Add reservations: `reserved` on levels (never above on hand), the reservations table,
and the reservation an issue fulfilled on the ledger.

Revision ID: 0007_reservations
Revises: 0006_event_log
Create Date: 2026-12-06 11:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_reservations"
down_revision: str | Sequence[str] | None = "0006_event_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stock_levels",
        sa.Column("reserved", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_stock_levels_reserved_within_on_hand"),
        "stock_levels",
        "reserved >= 0 AND reserved <= on_hand",
    )
    op.create_table(
        "reservations",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reservations_quantity_positive")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= quantity",
            name=op.f("ck_reservations_remaining_within_quantity"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'fulfilled', 'released', 'expired')",
            name=op.f("ck_reservations_status_valid"),
        ),
        sa.CheckConstraint(
            "status <> 'active' OR remaining > 0", name=op.f("ck_reservations_active_holds_stock")
        ),
        sa.CheckConstraint(
            "status <> 'fulfilled' OR remaining = 0",
            name=op.f("ck_reservations_fulfilled_holds_nothing"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_reservations_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_reservations_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_reservations_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index(
        "ix_reservations_active_expires_at",
        "reservations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_reservations_level_active",
        "reservations",
        ["product_id", "location_id", "created_at"],
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index("ix_reservations_created_at_id", "reservations", ["created_at", "id"])
    op.create_index(
        "ix_reservations_product_created_id", "reservations", ["product_id", "created_at", "id"]
    )
    op.create_index(
        "ix_reservations_location_created_id", "reservations", ["location_id", "created_at", "id"]
    )
    op.add_column("stock_movements", sa.Column("reservation_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_stock_movements_reservation_id_reservations"),
        "stock_movements",
        "reservations",
        ["reservation_id"],
        ["id"],
    )
    op.create_index(
        "ix_stock_movements_reservation_id",
        "stock_movements",
        ["reservation_id"],
        postgresql_where=sa.text("reservation_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_stock_movements_reservation_id", table_name="stock_movements")
    op.drop_constraint(
        op.f("fk_stock_movements_reservation_id_reservations"),
        "stock_movements",
        type_="foreignkey",
    )
    op.drop_column("stock_movements", "reservation_id")
    op.drop_table("reservations")
    op.drop_constraint(
        op.f("ck_stock_levels_reserved_within_on_hand"), "stock_levels", type_="check"
    )
    op.drop_column("stock_levels", "reserved")
