"""Products and locations as the API shows them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from src.core.gtin import NOT_A_GTIN, gtin14, gtin_error
from src.schemas.base import (
    NOT_BLANK_PATTERN,
    PATTERN_RULES,
    SPACES,
    InputSchema,
    Name,
    PatchSchema,
    Schema,
    WholeNumber,
    error_inside,
    explained,
    strip,
)

MAX_QUANTITY = 10**12

# An identifier; surrounding whitespace (a copy-paste accident) is allowed and trimmed.
CODE_PATTERN = explained(
    rf"^[{SPACES}]*[A-Za-z0-9._-]{{1,64}}[{SPACES}]*$",
    "must be 1 to 64 characters, each a letter (A-Z, a-z), a digit, '.', '_' or '-'; "
    "spaces around it are ignored",
)
Code = Annotated[str, Field(pattern=CODE_PATTERN), AfterValidator(strip)]
Unit = Annotated[
    str, Field(min_length=1, max_length=32, pattern=NOT_BLANK_PATTERN), AfterValidator(strip)
]
Description = Annotated[str, Field(max_length=2000)]


def _two_places(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    # copy_abs on zero: "-0" must not come back as "-0.00".
    quantized = value.quantize(Decimal("0.01"))
    return quantized.copy_abs() if quantized == 0 else quantized


PRICE_PATTERN = explained(
    r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
    'must be a decimal string with at most 2 places, such as "12.50"',
)


def _price_text(value: object) -> object:
    # The contract's decimal string ("12.50"); a JSON number would arrive as a binary float.
    if not isinstance(value, str) or not re.fullmatch(PRICE_PATTERN, value):
        raise ValueError(PATTERN_RULES[PRICE_PATTERN])
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_price_text),
    AfterValidator(_two_places),
    WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "examples": ["12.50"]}),
]
# The number in the ETag (`"v3"` for 3): a grid builds If-Match from a list row with it.
Version = Annotated[
    int,
    Field(
        ge=1,
        description='Version of the record; its ETag (and If-Match) is `"v<version>"`, e.g. `"v3"`',
    ),
]
ReorderPoint = Annotated[int, Field(ge=0, le=MAX_QUANTITY, strict=True), WholeNumber]

GTIN_PATTERN = explained(r"^(?:[0-9]{8}|[0-9]{12,14})$", NOT_A_GTIN)
MAX_BARCODES = 20


def _gtin(value: str) -> str:
    # The pattern has checked the digits; the check digit is beyond what a schema states.
    error = gtin_error(value)
    if error is not None:
        raise ValueError(error)
    return value


# One barcode, kept exactly as sent (no padding, no trimming): the label shows what was
# printed. Compared in its GTIN-14 form (src/core/gtin.py).
Barcode = Annotated[
    str,
    Field(
        pattern=GTIN_PATTERN,
        description="a GTIN-8, -12, -13 or -14 with a valid check digit",
        examples=["4006381333931"],
    ),
    AfterValidator(_gtin),
]


def _distinct(values: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        first = seen.setdefault(gtin14(value), index)
        if first != index:
            raise error_inside(
                (index,), f"repeats the barcode at index {first} (GTINs compared zero-padded)"
            )
    return values


Barcodes = Annotated[
    list[Barcode],
    Field(
        max_length=MAX_BARCODES,
        description=f"GTINs (at most {MAX_BARCODES}, each once), kept as sent; unique among "
        "active products, compared as GTIN-14 (a UPC-A equals its EAN-13 with a leading 0)",
    ),
    AfterValidator(_distinct),
]


class ProductCreate(InputSchema):
    sku: Code
    name: Name
    description: Description | None = None
    unit: Unit = "each"
    unit_price: Price | None = None
    reorder_point: ReorderPoint = 0
    barcodes: Barcodes = Field(default_factory=list)


class ProductUpdate(PatchSchema):
    _not_nullable: ClassVar[tuple[str, ...]] = (
        "sku",
        "name",
        "unit",
        "reorder_point",
        "barcodes",
    )

    sku: Code | None = None
    name: Name | None = None
    description: Description | None = None
    unit: Unit | None = None
    unit_price: Price | None = None
    reorder_point: ReorderPoint | None = None
    barcodes: Barcodes | None = Field(
        default=None,
        description=f"replaces the product's GTINs (at most {MAX_BARCODES}, each once, kept as "
        "sent; unique among active products); [] clears them",
    )


class ProductRead(Schema):
    id: uuid.UUID
    sku: str
    name: str
    description: str | None
    unit: str
    unit_price: Decimal | None = Field(examples=["12.50"])
    reorder_point: int
    barcodes: list[str] = Field(description="GTINs as sent; [] when none")
    is_archived: bool
    version: Version
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
    is_transit: bool = Field(
        description="The place stock in shipments sits while on its way: it takes and gives "
        "stock through shipments only."
    )
    version: Version
    created_at: datetime
    updated_at: datetime
