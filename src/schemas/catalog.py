"""Products and locations as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StringConstraints

from src.schemas.base import InputSchema, Name, PatchSchema, Schema

MAX_QUANTITY = 10**12

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Description = Annotated[str, StringConstraints(max_length=2000)]


def _two_places(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    # copy_abs on zero: "-0" must not come back as "-0.00".
    quantized = value.quantize(Decimal("0.01"))
    return quantized.copy_abs() if quantized == 0 else quantized


Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, examples=["12.50"]),
    AfterValidator(_two_places),
]
ReorderPoint = Annotated[int, Field(ge=0, le=MAX_QUANTITY, strict=True)]


class ProductCreate(InputSchema):
    sku: Code
    name: Name
    description: Description | None = None
    unit: Unit = "each"
    unit_price: Price | None = None
    reorder_point: ReorderPoint = 0


class ProductUpdate(PatchSchema):
    _not_nullable: ClassVar[tuple[str, ...]] = ("sku", "name", "unit", "reorder_point")

    sku: Code | None = None
    name: Name | None = None
    description: Description | None = None
    unit: Unit | None = None
    unit_price: Price | None = None
    reorder_point: ReorderPoint | None = None


class ProductRead(Schema):
    id: uuid.UUID
    sku: str
    name: str
    description: str | None
    unit: str
    unit_price: Decimal | None = Field(examples=["12.50"])
    reorder_point: int
    is_archived: bool
    created_at: datetime
    updated_at: datetime


class LocationCreate(InputSchema):
    code: Code
    name: Name


class LocationUpdate(PatchSchema):
    _not_nullable: ClassVar[tuple[str, ...]] = ("code", "name")

    code: Code | None = None
    name: Name | None = None


class LocationRead(Schema):
    id: uuid.UUID
    code: str
    name: str
    is_archived: bool
    created_at: datetime
    updated_at: datetime
