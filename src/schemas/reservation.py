"""Reservations as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from src.models.reservation import ReservationStatus
from src.schemas.actor import StoredActor
from src.schemas.base import InputSchema, Schema
from src.schemas.quantity import Quantity, Reference

# Seconds: one minute to thirty days.
MIN_EXPIRES_IN, MAX_EXPIRES_IN, DEFAULT_EXPIRES_IN = 60, 30 * 24 * 3600, 900


class ReservationCreate(InputSchema):
    product_id: uuid.UUID
    location_id: uuid.UUID
    quantity: Quantity
    expires_in: int = Field(
        default=DEFAULT_EXPIRES_IN,
        strict=True,
        ge=MIN_EXPIRES_IN,
        le=MAX_EXPIRES_IN,
        description="Seconds until the reservation stops holding stock (60 to 2592000).",
    )
    reference: Reference | None = Field(default=None, description="An order number, say.")


class ReservationFulfil(InputSchema):
    quantity: Quantity | None = Field(
        default=None, description="Units to issue now: 1 up to `remaining` (default: all of it)."
    )


class ReservationRead(Schema):
    id: uuid.UUID
    product_id: uuid.UUID
    location_id: uuid.UUID
    quantity: int
    remaining: int = Field(description="What it still holds while active.")
    status: ReservationStatus
    expires_at: datetime
    reference: str | None
    created_by: uuid.UUID | None = Field(
        description="The user who made it; null when an API client did"
    )
    actor: StoredActor = Field(description="Who made it: a user or an API client")
    allocation_id: uuid.UUID | None = Field(
        description="The allocation this reservation is a pick of (it then moves only "
        "through the allocation); null for a reservation of its own"
    )
    created_at: datetime
    updated_at: datetime
