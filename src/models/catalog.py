"""The catalog: products and stock locations. Both are versioned (ETag / If-Match) and
archived rather than deleted, so the ledger's references stay valid forever."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Index, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, Timestamps, UUIDPrimaryKey, trigram_index


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
    is_archived: Mapped[bool] = mapped_column(default=False, server_default="false")
    version: Mapped[int] = mapped_column(default=1, server_default="1")


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


# Case-insensitive uniqueness, and the indexes `q` (substring on sku or name) uses: trigram
# GIN indexes make `lower(x) LIKE '%…%'` an index scan instead of a full scan.
Index("uq_products_sku_lower", func.lower(Product.sku), unique=True)
trigram_index("ix_products_sku_trgm", Product.sku)
trigram_index("ix_products_name_trgm", Product.name)
Index("uq_locations_code_lower", func.lower(Location.code), unique=True)
Index(
    "uq_locations_transit",
    Location.is_transit,
    unique=True,
    postgresql_where=Location.is_transit,
)
