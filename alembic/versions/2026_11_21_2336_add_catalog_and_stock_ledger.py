"""Add the catalog (products, locations) and the stock ledger (levels, movements,
idempotency records), with the append-only trigger on movements.

Revision ID: 0003_stock
Revises: 0002_users
Create Date: 2026-11-21 23:36:41.859776+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_stock"
down_revision: str | Sequence[str] | None = "0002_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY_FUNCTION = """
CREATE FUNCTION stock_movements_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""


def upgrade() -> None:
    # Trigram indexes serve `q` substring search; pg_trgm is a trusted extension (PG 13+),
    # so the database owner may create it without superuser rights.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "locations",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_archived", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    op.create_index("ix_locations_created_at_id", "locations", ["created_at", "id"], unique=False)
    op.create_index(
        "uq_locations_code_lower", "locations", [sa.literal_column("lower(code)")], unique=True
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("reorder_point", sa.BigInteger(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "reorder_point >= 0", name=op.f("ck_products_reorder_point_non_negative")
        ),
        sa.CheckConstraint(
            "unit_price IS NULL OR unit_price >= 0",
            name=op.f("ck_products_unit_price_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index("ix_products_created_at_id", "products", ["created_at", "id"], unique=False)
    op.create_index("ix_products_name_id", "products", ["name", "id"], unique=False)
    op.create_index(
        "ix_products_name_trgm",
        "products",
        [sa.literal_column("lower(name)").label("name_lower")],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name_lower": "gin_trgm_ops"},
    )
    op.create_index("ix_products_sku_id", "products", ["sku", "id"], unique=False)
    op.create_index(
        "ix_products_sku_trgm",
        "products",
        [sa.literal_column("lower(sku)").label("sku_lower")],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"sku_lower": "gin_trgm_ops"},
    )
    op.create_index(
        "uq_products_sku_lower", "products", [sa.literal_column("lower(sku)")], unique=True
    )
    op.create_table(
        "idempotency_records",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_records_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_records")),
    )
    op.create_index(
        "ix_idempotency_records_created_at", "idempotency_records", ["created_at"], unique=False
    )
    op.create_table(
        "stock_levels",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_levels_on_hand_non_negative")),
        sa.CheckConstraint(
            "on_hand <= 1000000000000", name=op.f("ck_stock_levels_on_hand_within_bounds")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_levels_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_levels_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", "location_id", name=op.f("pk_stock_levels")),
    )
    op.create_index("ix_stock_levels_location_id", "stock_levels", ["location_id"], unique=False)
    op.create_table(
        "stock_movements",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "receipt", "issue", "adjustment", name="movement_kind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "count",
                "damage",
                "loss",
                "found",
                "correction",
                "other",
                name="adjustment_reason",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.Column("count_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'receipt' AND quantity > 0) OR (kind = 'issue' AND quantity < 0) OR (kind = 'adjustment' AND reason IS NOT NULL)",
            name=op.f("ck_stock_movements_quantity_sign_matches_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('receipt', 'issue', 'adjustment')", name=op.f("ck_stock_movements_kind_valid")
        ),
        sa.CheckConstraint(
            "reason IS NULL OR reason IN ('count', 'damage', 'loss', 'found', 'correction', 'other')",
            name=op.f("ck_stock_movements_reason_valid"),
        ),
        sa.CheckConstraint(
            "balance_after >= 0", name=op.f("ck_stock_movements_balance_after_non_negative")
        ),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_stock_movements_quantity_non_zero")),
        sa.CheckConstraint(
            "quantity BETWEEN -1000000000000 AND 1000000000000",
            name=op.f("ck_stock_movements_quantity_within_bounds"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_stock_movements_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_movements_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_movements_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    op.create_index(
        "ix_stock_movements_created_at_id", "stock_movements", ["created_at", "id"], unique=False
    )
    op.create_index(
        "ix_stock_movements_location_created_id",
        "stock_movements",
        ["location_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_stock_movements_product_created_id",
        "stock_movements",
        ["product_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_stock_movements_product_location_created",
        "stock_movements",
        ["product_id", "location_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_stock_movements_count_id", "stock_movements", ["count_id"], unique=False)
    op.create_index(
        "ix_stock_movements_transfer_id", "stock_movements", ["transfer_id"], unique=False
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE ON stock_movements"
        " FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only()"
    )
    op.execute(
        "CREATE TRIGGER stock_movements_no_truncate BEFORE TRUNCATE ON stock_movements"
        " FOR EACH STATEMENT EXECUTE FUNCTION stock_movements_append_only()"
    )


def downgrade() -> None:
    # Dropping the table drops its triggers; the function goes explicitly. pg_trgm stays:
    # other objects may use it.
    op.drop_index("ix_stock_movements_transfer_id", table_name="stock_movements")
    op.drop_index("ix_stock_movements_count_id", table_name="stock_movements")
    op.drop_index("ix_stock_movements_product_location_created", table_name="stock_movements")
    op.drop_index("ix_stock_movements_product_created_id", table_name="stock_movements")
    op.drop_index("ix_stock_movements_location_created_id", table_name="stock_movements")
    op.drop_index("ix_stock_movements_created_at_id", table_name="stock_movements")
    op.drop_table("stock_movements")
    op.execute("DROP FUNCTION stock_movements_append_only()")
    op.drop_index("ix_stock_levels_location_id", table_name="stock_levels")
    op.drop_table("stock_levels")
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.drop_table("idempotency_records")
    op.drop_index("uq_products_sku_lower", table_name="products")
    op.drop_index(
        "ix_products_sku_trgm",
        table_name="products",
        postgresql_using="gin",
        postgresql_ops={"sku_lower": "gin_trgm_ops"},
    )
    op.drop_index("ix_products_sku_id", table_name="products")
    op.drop_index(
        "ix_products_name_trgm",
        table_name="products",
        postgresql_using="gin",
        postgresql_ops={"name_lower": "gin_trgm_ops"},
    )
    op.drop_index("ix_products_name_id", table_name="products")
    op.drop_index("ix_products_created_at_id", table_name="products")
    op.drop_table("products")
    op.drop_index("uq_locations_code_lower", table_name="locations")
    op.drop_index("ix_locations_created_at_id", table_name="locations")
    op.drop_table("locations")
