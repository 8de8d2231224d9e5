"""Stock movements, transfers, counts and levels as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, ValidationInfo, field_validator

from src.models.stock import AdjustmentReason, MovementKind
from src.schemas.actor import StoredActor
from src.schemas.base import Absent, InputSchema, Schema, error_inside, left_out
from src.schemas.quantity import Counted, Note, Quantity, Reference, SignedQuantity
from src.schemas.reservation import ReservationRead

_ARTICLE = {
    MovementKind.RECEIPT: "a receipt",
    MovementKind.ISSUE: "an issue",
    MovementKind.ADJUSTMENT: "an adjustment",
}


class MovementCreate(InputSchema):
    """A receipt, issue or adjustment of one product at one location.

    The kind decides what the other fields may hold: a receipt or an issue takes a positive
    quantity and no reason; an adjustment takes a signed, non-zero quantity and a reason. The
    server answers 422 at the field that breaks one of these rules."""

    # Every field on this one object, the rules across them in descriptions: code generators
    # read a `oneOf` of partial shapes as classes that lose fields (or accept bad bodies).

    product_id: uuid.UUID
    location_id: uuid.UUID
    kind: MovementKind = Field(
        description="receipt adds stock, issue removes it, adjustment corrects it"
    )
    quantity: SignedQuantity = Field(
        description="Units. Receipt or issue: positive (an issue of 3 removes 3). "
        "Adjustment: the signed change, not zero (-2 removes 2)."
    )
    reason: AdjustmentReason | None = Field(
        default=None,
        validate_default=True,  # so that a missing reason meets the rule below too
        description="Why stock was adjusted: required for an adjustment; "
        "left out (or null) for a receipt or an issue.",
    )
    reference: Reference | None = Field(
        default=None, description="An order or document number, say (trimmed)."
    )
    note: Note | None = None
    expected_on_hand: Counted | None = Field(
        default=None,
        # Left out of the body's dump when absent, so a body without it fingerprints (for
        # Idempotency-Key) exactly as it did before the field existed.
        exclude_if=lambda value: value is None,
        description="The quantity on hand the client based this movement on: when the "
        "level holds another at the moment of posting, nothing is written (409 "
        "stale-quantity with the current `on_hand`). Left out: no check.",
    )

    # Field validators, not one model validator: each error lands on its field, and a form
    # learns of every field to fix at once. `info.data` lacks `kind` when the kind is itself
    # invalid; that error is reported and the rules wait for a valid one.
    @field_validator("quantity")
    @classmethod
    def _quantity_for_kind(cls, quantity: int, info: ValidationInfo) -> int:
        kind = info.data.get("kind")
        if kind == MovementKind.ADJUSTMENT and quantity == 0:
            raise ValueError("The quantity of an adjustment must not be zero")
        if kind in (MovementKind.RECEIPT, MovementKind.ISSUE) and quantity <= 0:
            raise ValueError(f"The quantity of {_ARTICLE[kind]} must be positive")
        return quantity

    @field_validator("reason")
    @classmethod
    def _reason_for_kind(
        cls, reason: AdjustmentReason | None, info: ValidationInfo
    ) -> AdjustmentReason | None:
        kind = info.data.get("kind")
        if kind == MovementKind.ADJUSTMENT and reason is None:
            raise ValueError("An adjustment needs a reason")
        if kind in (MovementKind.RECEIPT, MovementKind.ISSUE) and reason is not None:
            raise ValueError("Only adjustments take a reason")
        return reason

    @property
    def delta(self) -> int:
        """The signed change to on-hand stock."""
        return -self.quantity if self.kind == MovementKind.ISSUE else self.quantity


class TransferCreate(InputSchema):
    product_id: uuid.UUID
    from_location_id: uuid.UUID
    to_location_id: uuid.UUID = Field(description="Another location than from_location_id.")
    quantity: Quantity
    reference: Reference | None = None

    @field_validator("to_location_id")
    @classmethod
    def _another_location(cls, to: uuid.UUID, info: ValidationInfo) -> uuid.UUID:
        if to == info.data.get("from_location_id"):
            raise ValueError("The destination must be another location than the source")
        return to


class CountLine(InputSchema):
    product_id: uuid.UUID
    counted: Counted


class CountCreate(InputSchema):
    location_id: uuid.UUID
    lines: list[CountLine] = Field(
        min_length=1, max_length=1000, description="Each product on one line only."
    )
    # Stored on every movement the count posts, as a movement's own are.
    reference: Reference | None = None
    note: Note | None = None

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[CountLine]) -> list[CountLine]:
        seen: set[uuid.UUID] = set()
        for index, line in enumerate(lines):
            if line.product_id in seen:
                raise error_inside(
                    (index, "product_id"), "This product is already on an earlier line of the count"
                )
            seen.add(line.product_id)
        return lines


MAX_BATCH_LINES = 100


class BatchCreate(InputSchema):
    """Several movements posted together, all or nothing."""

    movements: list[MovementCreate] = Field(
        min_length=1,
        max_length=MAX_BATCH_LINES,
        description="Applied in order; lines on the same level see the lines before them.",
    )
    reference: Reference | None = Field(
        default=None, description="Stored on every line that has no reference of its own."
    )


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
    batch_id: uuid.UUID | None = Field(description="The batch this movement was posted in.")
    reservation_id: uuid.UUID | None = Field(description="The reservation this issue fulfilled.")
    shipment_id: uuid.UUID | None = Field(
        description="The shipment this movement sent, received, wrote off or returned."
    )
    created_by: uuid.UUID | None = Field(
        description="The user who made it; null when an API client did"
    )
    actor: StoredActor = Field(description="Who posted it: a user or an API client")
    request_id: str | None
    created_at: datetime


class TransferRead(Schema):
    transfer_id: uuid.UUID
    movements: list[MovementRead]
    actor: StoredActor = Field(description="Who moved it (each movement names the same)")


class BatchRead(Schema):
    batch_id: uuid.UUID
    movements: list[MovementRead]
    actor: StoredActor = Field(description="Who posted it (each movement names the same)")


class CountRead(Schema):
    count_id: uuid.UUID
    movements: list[MovementRead]
    actor: StoredActor = Field(
        description="Who counted (each adjustment names the same; also when nothing differed)"
    )
    reservations_shortened: list[ReservationRead] = Field(
        description="Reservations the count shrank (or released) because it found fewer "
        "units than were reserved, newest first."
    )


class FulfilmentRead(Schema):
    reservation: ReservationRead
    movement: MovementRead


class ProductSummary(Schema):
    """A level's product as `expand=product` embeds it."""

    id: uuid.UUID
    sku: str
    name: str
    unit: str
    reorder_point: int


class LocationSummary(Schema):
    """A level's location as `expand=location` embeds it."""

    id: uuid.UUID
    code: str
    name: str


class StockLevelRead(Schema):
    product_id: uuid.UUID
    location_id: uuid.UUID
    on_hand: int
    reserved: int = Field(description="Held by active reservations.")
    available: int | None = Field(
        description="on_hand - reserved: what issues, transfers and new reservations may "
        "take. Null with `as_of` (reservations have no history)."
    )
    incoming: int = Field(description="On its way here in shipments (not on hand yet).")
    updated_at: datetime
    product: ProductSummary | Absent = left_out("With `expand=product` only.")
    location: LocationSummary | Absent = left_out("With `expand=location` only.")


class LocationStock(Schema):
    location_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int
    incoming: int


class ProductStockRead(Schema):
    product_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int
    incoming: int
    locations: list[LocationStock]


class LocationAvailabilityRead(Schema):
    location_id: uuid.UUID
    code: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved.")
    incoming: int


class AvailabilityRead(Schema):
    """One asked product: totals over its active, non-transit locations, and each of them."""

    product_id: uuid.UUID
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved: what may be sold now.")
    incoming: int
    locations: list[LocationAvailabilityRead] = Field(
        description="Locations holding a level of it, by code."
    )


class AvailabilityList(Schema):
    items: list[AvailabilityRead] = Field(description="One per asked product, in asked order.")


class Mismatch(Schema):
    product_id: uuid.UUID
    location_id: uuid.UUID
    on_hand: int | None
    ledger: int = Field(description="The sum of the level's movements.")
    reserved: int
    held: int = Field(description="What the level's active reservations hold in all.")
    incoming: int
    pending_to_here: int = Field(description="What shipments to this location have pending.")
    pending_in_transit: int | None = Field(
        description="On the transit location only: what all shipments have pending."
    )


class ReconciliationRead(Schema):
    checked: int
    mismatches: list[Mismatch]
