"""The registry of change-feed event types: adding a type is one line here.

Values are the public `type` strings of `GET /api/v1/events`; clients ignore types they do
not know, so adding one is never a breaking change (removing or renaming one is).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    MOVEMENT_CREATED = "movement.created"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_ARCHIVED = "product.archived"
    PRODUCT_RESTORED = "product.restored"
    LOCATION_CREATED = "location.created"
    LOCATION_UPDATED = "location.updated"
    LOCATION_ARCHIVED = "location.archived"
    LOCATION_RESTORED = "location.restored"
    LEVEL_BELOW_REORDER = "level.below_reorder"
    RESERVATION_CREATED = "reservation.created"
    RESERVATION_FULFILLED = "reservation.fulfilled"
    RESERVATION_RELEASED = "reservation.released"
    RESERVATION_EXPIRED = "reservation.expired"
    ALLOCATION_CREATED = "allocation.created"
    ALLOCATION_FULFILLED = "allocation.fulfilled"
    ALLOCATION_RELEASED = "allocation.released"
    ALLOCATION_EXPIRED = "allocation.expired"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_RECEIVED = "shipment.received"
    SHIPMENT_COMPLETED = "shipment.completed"
    SHIPMENT_CANCELED = "shipment.canceled"


EVENT_TYPES: frozenset[str] = frozenset(EventType)

# The NOTIFY channel writers signal after appending events: only a wake-up hint for
# readers, which then read the log (the truth) from their last position.
FEED_CHANNEL = "events"
