"""Add batches: the batch a movement was posted in (`POST /stock/batches`), indexed only
where set, as transfers and counts are.

Revision ID: 0008_batches
Revises: 0007_reservations
Create Date: 2026-12-06 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_batches"
down_revision: str | Sequence[str] | None = "0007_reservations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stock_movements", sa.Column("batch_id", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_stock_movements_batch_id",
        "stock_movements",
        ["batch_id"],
        postgresql_where=sa.text("batch_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_stock_movements_batch_id", table_name="stock_movements")
    op.drop_column("stock_movements", "batch_id")
