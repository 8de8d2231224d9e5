"""Tune list indexes: trigram search on users, key-ordered level and movement indexes,
and partial indexes for transfer and count ids (most movements have neither).

Revision ID: 0004_list_indexes
Revises: 0003_stock
Create Date: 2026-11-22 00:06:09.204726+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_list_indexes"
down_revision: str | Sequence[str] | None = "0003_stock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_stock_levels_location_id"), table_name="stock_levels")
    op.create_index(
        "ix_stock_levels_location_product",
        "stock_levels",
        ["location_id", "product_id"],
        unique=False,
    )
    op.drop_index(op.f("ix_stock_movements_product_location_created"), table_name="stock_movements")
    op.create_index(
        "ix_stock_movements_product_location_created_id",
        "stock_movements",
        ["product_id", "location_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_users_email_trgm",
        "users",
        [sa.literal_column("lower(email)").label("email_lower")],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"email_lower": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_users_full_name_trgm",
        "users",
        [sa.literal_column("lower(full_name)").label("full_name_lower")],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"full_name_lower": "gin_trgm_ops"},
    )
    for column in ("transfer_id", "count_id"):
        op.drop_index(f"ix_stock_movements_{column}", table_name="stock_movements")
        op.create_index(
            f"ix_stock_movements_{column}",
            "stock_movements",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in ("transfer_id", "count_id"):
        op.drop_index(f"ix_stock_movements_{column}", table_name="stock_movements")
        op.create_index(f"ix_stock_movements_{column}", "stock_movements", [column])
    op.drop_index(
        "ix_users_full_name_trgm",
        table_name="users",
        postgresql_using="gin",
        postgresql_ops={"full_name_lower": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_users_email_trgm",
        table_name="users",
        postgresql_using="gin",
        postgresql_ops={"email_lower": "gin_trgm_ops"},
    )
    op.drop_index("ix_stock_movements_product_location_created_id", table_name="stock_movements")
    op.create_index(
        op.f("ix_stock_movements_product_location_created"),
        "stock_movements",
        ["product_id", "location_id", "created_at"],
        unique=False,
    )
    op.drop_index("ix_stock_levels_location_product", table_name="stock_levels")
    op.create_index(
        op.f("ix_stock_levels_location_id"), "stock_levels", ["location_id"], unique=False
    )
