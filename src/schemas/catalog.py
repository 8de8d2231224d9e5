"""Products and locations as the API shows them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from src.schemas.base import (
    NOT_BLANK_PATTERN,
    PATTERN_RULES,
    SPACES,
    InputSchema,
    Name,
    PatchSchema,
    Schema,
    WholeNumber,
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
