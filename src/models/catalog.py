"""The catalog: products and stock locations. Both are versioned (ETag / If-Match) and
archived rather than deleted, so the ledger's references stay valid forever."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, Timestamps, UUIDPrimaryKey


class Product(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("reorder_point >= 0", name="reorder_point_non_negative"),
        CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price_non_negative"),
        # One index per sort order, each ending in id (the keyset tie-breaker).
        Index("ix_products_name_id", "name", "id"),
        Index("ix_products_sku_id", "sku", "id"),
        Index("ix_products_created_at_id", "created_at", "id"),
    )

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    unit: Mapped[str] = mapped_column(String(32), default="each")
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    reorder_point: Mapped[int] = mapped_column(BigInteger, default=0)
    # GTINs as sent; their uniqueness lives in product_barcodes (kept by a trigger).
    barcodes: Mapped[list[str]] = mapped_column(
        ARRAY(String(14)), default=list, server_default=text("'{}'")
    )
    is_archived: Mapped[bool] = mapped_column(default=False, server_default="false")
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # What `q` searches: sku, name and barcodes, lower-cased and unaccented by the database
    # function that folds the search term too (migration 0017), under one trigram index.
    search_text: Mapped[str] = mapped_column(
        Text, Computed("product_search_text(sku, name, barcodes)", persisted=True)
    )


class ProductBarcode(Base):
    """One barcode of one product in its GTIN-14 form, written only by triggers on
    products (function `products_barcodes_sync`, migration 0017): a partial unique index
    over the active ones lets the database, not a prior SELECT, refuse a barcode two active
    products would share."""

    __tablename__ = "product_barcodes"
    __table_args__ = (
        Index("ix_product_barcodes_product_id", "product_id"),
        Index(
            "uq_product_barcodes_active",
            "barcode",
            unique=True,
            postgresql_where=text("is_active"),
        ),
    )

    # (barcode, product_id): the primary key serves `?barcode=` for archived products too.
    barcode: Mapped[str] = mapped_column(String(14), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    is_active: Mapped[bool]


class Location(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "locations"
    __table_args__ = (Index("ix_locations_created_at_id", "created_at", "id"),)

    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    is_archived: Mapped[bool] = mapped_column(default=False, server_default="false")
    # The one place stock in shipments sits while on its way (created with the first
    # shipment): it takes and gives stock through shipments only.
    is_transit: Mapped[bool] = mapped_column(default=False, server_default="false")
    version: Mapped[int] = mapped_column(default=1, server_default="1")


# Case-insensitive uniqueness, and the index `q` (substring of sku, name or a barcode) uses:
# a trigram GIN index makes `search_text LIKE '%…%'` an index scan instead of a full scan.
Index("uq_products_sku_lower", func.lower(Product.sku), unique=True)
Index(
    "ix_products_search_trgm",
    Product.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)
Index("uq_locations_code_lower", func.lower(Location.code), unique=True)
Index(
    "uq_locations_transit",
    Location.is_transit,
    unique=True,
    postgresql_where=Location.is_transit,
)
