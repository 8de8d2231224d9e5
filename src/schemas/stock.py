"""Stock movements, transfers, counts and levels as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from src.models.stock import AdjustmentReason, MovementKind
from src.schemas.base import InputSchema, Schema, WholeNumber, document_input, strip
from src.schemas.catalog import MAX_QUANTITY

# JSON numbers only (strict: no "5" strings, no 5.5), bounded so arithmetic stays exact.
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY), WholeNumber]
SignedQuantity = Annotated[int, Field(strict=True, ge=-MAX_QUANTITY, le=MAX_QUANTITY), WholeNumber]
Counted = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY), WholeNumber]
Reference = Annotated[str, Field(max_length=200), AfterValidator(strip)]
Note = Annotated[str, Field(max_length=2000)]


def _movement_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    # The kind rules below, stated in the schema.
    document_input(schema, model)
    schema["oneOf"] = [
        {
            "properties": {
                "kind": {"enum": [MovementKind.RECEIPT, MovementKind.ISSUE]},
                "quantity": {"minimum": 1},
                "reason": {"type": "null"},
            }
        },
        {
            "properties": {
                "kind": {"const": MovementKind.ADJUSTMENT},
                "quantity": {"not": {"const": 0}},
                "reason": {"not": {"type": "null"}},
            },
            "required": ["reason"],
        },
    ]


class MovementCreate(InputSchema):
    model_config = ConfigDict(json_schema_extra=_movement_schema)

    product_id: uuid.UUID
    location_id: uuid.UUID
    kind: MovementKind
    quantity: SignedQuantity
    reason: AdjustmentReason | None = None
    reference: Reference | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _kind_rules(self) -> MovementCreate:
        if self.kind == MovementKind.ADJUSTMENT:
            if self.quantity == 0:
                raise ValueError("an adjustment's quantity must be non-zero")
            if self.reason is None:
                raise ValueError("an adjustment needs a reason")
        else:
            if self.quantity <= 0:
                raise ValueError(f"the quantity of {self.kind.value} must be positive")
            if self.reason is not None:
                raise ValueError("only adjustments take a reason")
        return self

    @property
    def delta(self) -> int:
        """The signed change to on-hand stock."""
        return -self.quantity if self.kind == MovementKind.ISSUE else self.quantity


class TransferCreate(InputSchema):
    product_id: uuid.UUID
    from_location_id: uuid.UUID
    to_location_id: uuid.UUID
    quantity: Quantity
    reference: Reference | None = None

    @model_validator(mode="after")
    def _two_places(self) -> TransferCreate:
        if self.from_location_id == self.to_location_id:
            raise ValueError("from_location_id and to_location_id must differ")
        return self


class CountLine(InputSchema):
    product_id: uuid.UUID
    counted: Counted


class CountCreate(InputSchema):
    location_id: uuid.UUID
    lines: list[CountLine] = Field(min_length=1, max_length=1000)
    # Stored on every movement the count posts, as a movement's own are.
    reference: Reference | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _one_line_per_product(self) -> CountCreate:
        ids = [line.product_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("each product may appear only once in a count")
        return self


class MovementRead(Schema):
    id: uuid.UUID
    product_id: uuid.UUID
    location_id: uuid.UUID
    kind: MovementKind
    quantity: int
    balance_after: int
    reason: AdjustmentReason | None
    reference: str | None
    note: str | None
    transfer_id: uuid.UUID | None
    count_id: uuid.UUID | None
    created_by: uuid.UUID
    request_id: str | None
    created_at: datetime


class TransferRead(Schema):
    transfer_id: uuid.UUID
    movements: list[MovementRead]


class CountRead(Schema):
    count_id: uuid.UUID
    movements: list[MovementRead]


class StockLevelRead(Schema):
    product_id: uuid.UUID
    location_id: uuid.UUID
    on_hand: int
    updated_at: datetime


class LocationStock(Schema):
    location_id: uuid.UUID
    on_hand: int


class ProductStockRead(Schema):
    product_id: uuid.UUID
    on_hand: int
    locations: list[LocationStock]


class Mismatch(Schema):
    product_id: uuid.UUID
    location_id: uuid.UUID
    on_hand: int | None
    ledger: int


class ReconciliationRead(Schema):
    checked: int
    mismatches: list[Mismatch]
