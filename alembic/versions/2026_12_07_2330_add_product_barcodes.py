"""Product barcodes (GTINs), unique among active products, and one accent- and
case-insensitive search column for `q` over sku, name and barcodes.

Revision ID: 0017_product_barcodes
Revises: 0016_allocations
Create Date: 2026-12-07 23:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_product_barcodes"
down_revision: str | Sequence[str] | None = "0016_allocations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unaccent() is only STABLE (its dictionary is looked up by name through search_path), so
# neither a generated column nor an index may call it. These wrappers name the dictionary
# and every function with its schema, which makes the result depend on the text alone:
# declaring them IMMUTABLE is then true. `q` folds its term with the same function.
FOLD_FUNCTION = """
CREATE FUNCTION {own}.search_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT pg_catalog.lower({ext}.unaccent('{ext}.unaccent'::regdictionary, value))
$$
"""
SEARCH_TEXT_FUNCTION = """
CREATE FUNCTION {own}.product_search_text(sku text, name text, barcodes varchar[])
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT {own}.search_fold(
        sku || ' ' || name || ' ' || pg_catalog.array_to_string(barcodes, ' ')
    )
$$
"""
# product_barcodes mirrors products.barcodes (GTIN-14 form) with the product's state: the
# partial unique index over active rows then refuses, in the statement that writes the
# product, a barcode another active product holds (uq_product_barcodes_active, a 409).
SYNC_FUNCTION = """
CREATE FUNCTION products_barcodes_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_barcodes WHERE product_id = NEW.id;
    END IF;
    INSERT INTO product_barcodes (barcode, product_id, is_active)
    SELECT DISTINCT lpad(code, 14, '0'), NEW.id, NOT NEW.is_archived
    FROM unnest(NEW.barcodes) AS code;
    RETURN NULL;
END;
$$
"""


def _trigram(name: str, column: str) -> None:
    label = f"{column}_lower"
    op.create_index(
        name,
        "products",
        [sa.literal_column(f"lower({column})").label(label)],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={label: "gin_trgm_ops"},
    )


def upgrade() -> None:
    # Trusted (PG 13+): the database owner may create it, as with pg_trgm.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    connection = op.get_bind()
    ext = connection.scalar(
        sa.text(
            "SELECT quote_ident(n.nspname) FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
        )
    )
    own = connection.scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(FOLD_FUNCTION.format(own=own, ext=ext))
    op.execute(SEARCH_TEXT_FUNCTION.format(own=own))

    op.add_column(
        "products",
        sa.Column(
            "barcodes",
            postgresql.ARRAY(sa.String(length=14)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    op.add_column(
        "products",
        sa.Column(
            "search_text",
            sa.Text(),
            sa.Computed("product_search_text(sku, name, barcodes)", persisted=True),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_products_search_trgm",
        "products",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    # The search column's index serves `q` now; these two served it on sku and name.
    op.drop_index("ix_products_sku_trgm", table_name="products")
    op.drop_index("ix_products_name_trgm", table_name="products")

    op.create_table(
        "product_barcodes",
        sa.Column("barcode", sa.String(length=14), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_barcodes_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("barcode", "product_id", name=op.f("pk_product_barcodes")),
    )
    op.create_index("ix_product_barcodes_product_id", "product_barcodes", ["product_id"])
    op.create_index(
        "uq_product_barcodes_active",
        "product_barcodes",
        ["barcode"],
        unique=True,
        postgresql_where=sa.text("is_active"),
    )
    op.execute(SYNC_FUNCTION)
    op.execute(
        "CREATE TRIGGER products_barcodes_added AFTER INSERT ON products FOR EACH ROW"
        " WHEN (cardinality(NEW.barcodes) > 0) EXECUTE FUNCTION products_barcodes_sync()"
    )
    op.execute(
        "CREATE TRIGGER products_barcodes_changed AFTER UPDATE OF barcodes, is_archived"
        " ON products FOR EACH ROW WHEN (OLD.barcodes IS DISTINCT FROM NEW.barcodes"
        " OR OLD.is_archived IS DISTINCT FROM NEW.is_archived)"
        " EXECUTE FUNCTION products_barcodes_sync()"
    )


def downgrade() -> None:
    # unaccent stays, as pg_trgm does: other objects may use it.
    op.execute("DROP TRIGGER products_barcodes_changed ON products")
    op.execute("DROP TRIGGER products_barcodes_added ON products")
    op.execute("DROP FUNCTION products_barcodes_sync()")
    op.drop_table("product_barcodes")
    _trigram("ix_products_name_trgm", "name")
    _trigram("ix_products_sku_trgm", "sku")
    op.drop_index("ix_products_search_trgm", table_name="products")
    op.drop_column("products", "search_text")
    op.drop_column("products", "barcodes")
    op.execute("DROP FUNCTION product_search_text(text, text, varchar[])")
    op.execute("DROP FUNCTION search_fold(text)")
