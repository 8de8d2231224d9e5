"""Allocations as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, StrictBool, field_validator

from src.models.allocation import AllocationStatus
from src.schemas.actor import StoredActor
from src.schemas.base import InputSchema, Schema
from src.schemas.quantity import Quantity, Reference
from src.schemas.reservation import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MIN_EXPIRES_IN
from src.schemas.stock import MovementRead

MAX_ALLOCATION_LINES = MAX_PREFERRED_LOCATIONS = 100

_EXPIRES_IN = "Seconds until the allocation stops holding stock (60 to 2592000)."


class AllocationLineCreate(InputSchema):
    product_id: uuid.UUID
    quantity: Quantity
    location_id: uuid.UUID | None = Field(
        default=None, description="Take this line from this location only (a pin)."
    )


class AllocationCreate(InputSchema):
    reference: Reference | None = Field(default=None, description="An order number, say.")
    lines: list[AllocationLineCreate] = Field(
        min_length=1,
        max_length=MAX_ALLOCATION_LINES,
        description="What the order needs; a product may appear on several lines (their "
        "quantities add up, in line order).",
    )
    locations: list[uuid.UUID] = Field(
        default=[],
        max_length=MAX_PREFERRED_LOCATIONS,
        description="Preferred locations, in order: tried before the others (which follow by "
        "most available). A repeated id counts once, at its first place.",
    )
    split: StrictBool = Field(
        default=True, description="false: each line comes from one location only."
    )
    single_location: StrictBool = Field(
        default=False, description="true: the whole order comes from one location (or 409)."
    )
    expires_in: int = Field(
        default=DEFAULT_EXPIRES_IN,
        strict=True,
        ge=MIN_EXPIRES_IN,
        le=MAX_EXPIRES_IN,
        description=_EXPIRES_IN,
    )

    @field_validator("locations")
    @classmethod
    def _first_place_counts(cls, locations: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(locations))


class AllocationFulfilLine(InputSchema):
    line_id: uuid.UUID
    quantity: Quantity = Field(description="Units to issue now: 1 up to what the line holds.")


class AllocationFulfil(InputSchema):
    lines: list[AllocationFulfilLine] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ALLOCATION_LINES,
        description="What to issue now, by line (a line named twice adds up); default: "
        "everything the allocation still holds.",
    )


class AllocationExtend(InputSchema):
    expires_in: int = Field(
        strict=True,
        ge=MIN_EXPIRES_IN,
        le=MAX_EXPIRES_IN,
        description="Seconds from now until the allocation and its picks stop holding stock "
        "(60 to 2592000).",
    )


class PickRead(Schema):
    location_id: uuid.UUID
    reservation_id: uuid.UUID = Field(description="The reservation that holds this pick")
    quantity: int = Field(description="Units picked here (the reservation's quantity)")


class AllocationLineRead(Schema):
    id: uuid.UUID
    product_id: uuid.UUID
    quantity: int
    fulfilled: int = Field(description="Units issued so far through the allocation")
    picks: list[PickRead] = Field(description="Where the line is held, in pick order")


class AllocationRead(Schema):
    id: uuid.UUID
    reference: str | None
    status: AllocationStatus
    expires_at: datetime
    lines: list[AllocationLineRead] = Field(description="In the order the request gave them")
    created_by: uuid.UUID | None = Field(
        description="The user who made it; null when an API client did"
    )
    actor: StoredActor = Field(description="Who made it: a user or an API client")
    created_at: datetime
    updated_at: datetime


class AllocationFulfilmentRead(Schema):
    allocation: AllocationRead
    movements: list[MovementRead] = Field(description="One `issue` movement per pick touched")
