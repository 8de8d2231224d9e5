"""API clients (credentials for systems): `created_by` left null when a client acted, and
idempotency keys owned by a user or a client.

Revision ID: 0013_api_clients
Revises: 0012_email_skeletons_folded
Create Date: 2026-12-07 20:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_api_clients"
down_revision: str | Sequence[str] | None = "0012_email_skeletons_folded"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Records a client can make: their author column names people only.
_AUTHORED = ("stock_movements", "reservations", "shipments", "webhook_endpoints")


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("rate_limit", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("previous_secret_hash", sa.String(length=128), nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_api_clients_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    op.create_index(
        "ix_api_clients_created_at_id",
        "api_clients",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    for table in _AUTHORED:
        op.alter_column(table, "created_by", existing_type=sa.Uuid(), nullable=True)
    # An idempotency key belongs to its caller, a user or a client: no foreign key to users.
    op.drop_constraint(
        "fk_idempotency_records_user_id_users", "idempotency_records", type_="foreignkey"
    )


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM idempotency_records WHERE user_id NOT IN (SELECT id FROM users)")
    )
    op.create_foreign_key(
        "fk_idempotency_records_user_id_users",
        "idempotency_records",
        "users",
        ["user_id"],
        ["id"],
        ondelete="CASCADE",
    )
    # Fails while a client's records exist: they have no person to name.
    for table in _AUTHORED:
        op.alter_column(table, "created_by", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_api_clients_created_at_id", table_name="api_clients")
    op.drop_table("api_clients")
