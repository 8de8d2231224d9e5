"""Add shipments: the shipments and their lines, `incoming` on levels, the transit location's
flag, and the shipment a movement belongs to.

Revision ID: 0009_shipments
Revises: 0008_batches
Create Date: 2026-12-06 12:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_shipments"
down_revision: str | Sequence[str] | None = "0008_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "locations",
        sa.Column("is_transit", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_index(
        "uq_locations_transit",
        "locations",
        ["is_transit"],
        unique=True,
        postgresql_where=sa.text("is_transit"),
    )
    op.add_column(
        "stock_levels",
        sa.Column("incoming", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_stock_levels_incoming_non_negative"), "stock_levels", "incoming >= 0"
    )
    op.create_table(
        "shipments",
        sa.Column("from_location_id", sa.Uuid(), nullable=False),
        sa.Column("to_location_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
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
        sa.CheckConstraint(
            "from_location_id <> to_location_id", name=op.f("ck_shipments_two_locations")
        ),
        sa.CheckConstraint(
            "status IN ('in_transit', 'partially_received', 'completed', 'canceled')",
            name=op.f("ck_shipments_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_shipments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["locations.id"],
            name=op.f("fk_shipments_from_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"], ["locations.id"], name=op.f("fk_shipments_to_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
    )
    op.create_index("ix_shipments_created_at_id", "shipments", ["created_at", "id"])
    op.create_index(
        "ix_shipments_from_created_id", "shipments", ["from_location_id", "created_at", "id"]
    )
    op.create_index(
        "ix_shipments_to_created_id", "shipments", ["to_location_id", "created_at", "id"]
    )
    op.create_table(
        "shipment_lines",
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("damaged", sa.BigInteger(), nullable=False),
        sa.Column("canceled", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("shipped > 0", name=op.f("ck_shipment_lines_shipped_positive")),
        sa.CheckConstraint(
            "received >= 0 AND damaged >= 0 AND canceled >= 0",
            name=op.f("ck_shipment_lines_parts_non_negative"),
        ),
        sa.CheckConstraint(
            "received + damaged + canceled <= shipped",
            name=op.f("ck_shipment_lines_parts_within_shipped"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_shipment_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_shipment_lines_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("shipment_id", "product_id", name=op.f("pk_shipment_lines")),
    )
    op.create_index("ix_shipment_lines_product_id", "shipment_lines", ["product_id"])
    op.add_column("stock_movements", sa.Column("shipment_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_stock_movements_shipment_id_shipments"),
        "stock_movements",
        "shipments",
        ["shipment_id"],
        ["id"],
    )
    op.create_index(
        "ix_stock_movements_shipment_id",
        "stock_movements",
        ["shipment_id"],
        postgresql_where=sa.text("shipment_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_stock_movements_shipment_id", table_name="stock_movements")
    op.drop_constraint(
        op.f("fk_stock_movements_shipment_id_shipments"), "stock_movements", type_="foreignkey"
    )
    op.drop_column("stock_movements", "shipment_id")
    op.drop_table("shipment_lines")
    op.drop_table("shipments")
    op.drop_constraint(op.f("ck_stock_levels_incoming_non_negative"), "stock_levels", type_="check")
    op.drop_column("stock_levels", "incoming")
    op.drop_index("uq_locations_transit", table_name="locations")
    op.drop_column("locations", "is_transit")
