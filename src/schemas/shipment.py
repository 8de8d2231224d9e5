"""Shipments as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, ValidationInfo, field_validator, model_validator

from src.models.shipment import ShipmentStatus
from src.schemas.actor import StoredActor
from src.schemas.base import InputSchema, Schema, error_inside
from src.schemas.catalog import Version
from src.schemas.quantity import Counted, Quantity, Reference

MAX_LINES = 100


def _distinct_products(lines: list[_Line]) -> None:
    seen: set[uuid.UUID] = set()
    for index, line in enumerate(lines):
        if line.product_id in seen:
            raise error_inside((index, "product_id"), "This product is already on an earlier line")
        seen.add(line.product_id)


class _Line(InputSchema):
    product_id: uuid.UUID


class ShipmentLineCreate(_Line):
    quantity: Quantity


class ShipmentCreate(InputSchema):
    from_location_id: uuid.UUID
    to_location_id: uuid.UUID = Field(description="Another location than from_location_id.")
    lines: list[ShipmentLineCreate] = Field(
        min_length=1, max_length=MAX_LINES, description="Each product on one line only."
    )
    reference: Reference | None = None

    @field_validator("to_location_id")
    @classmethod
    def _another_location(cls, to: uuid.UUID, info: ValidationInfo) -> uuid.UUID:
        if to == info.data.get("from_location_id"):
            raise ValueError("The destination must be another location than the source")
        return to

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[ShipmentLineCreate]) -> list[ShipmentLineCreate]:
        _distinct_products(list(lines))
        return lines


class ShipmentLineReceipt(_Line):
    received: Counted = 0
    damaged: Counted = Field(default=0, description="Arrived unusable: written off on arrival.")

    @model_validator(mode="after")
    def _something_arrived(self) -> ShipmentLineReceipt:
        if self.received + self.damaged == 0:
            raise ValueError("A receipt line needs received or damaged units")
        return self


class ShipmentReceipt(InputSchema):
    lines: list[ShipmentLineReceipt] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="Products of the shipment, each on one line only; received + damaged "
        "at most what is pending.",
    )

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[ShipmentLineReceipt]) -> list[ShipmentLineReceipt]:
        _distinct_products(list(lines))
        return lines


class ShipmentLineRead(Schema):
    product_id: uuid.UUID
    shipped: int
    received: int
    damaged: int
    canceled: int
    pending: int = Field(description="Still on its way: shipped - received - damaged - canceled.")


class ShipmentRead(Schema):
    id: uuid.UUID
    from_location_id: uuid.UUID
    to_location_id: uuid.UUID
    status: ShipmentStatus
    reference: str | None
    lines: list[ShipmentLineRead]
    version: Version
    created_by: uuid.UUID | None = Field(
        description="The user who made it; null when an API client did"
    )
    actor: StoredActor = Field(description="Who sent it: a user or an API client")
    created_at: datetime
    updated_at: datetime
