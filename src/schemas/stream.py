"""The frames of the event streams (GET /stock/events, GET /events/stream), documented for
clients: SSE has no schema of its own in OpenAPI 3.1, so each stream's response points at
its model."""

import uuid
from typing import Literal

from pydantic import Field

from src.schemas.base import Output
from src.schemas.feed import EventRead
from src.schemas.stock import MovementRead


class MovementEvent(Output):
    """One Server-Sent Event: `event: movement`, `id:` the movement id, `data:` the movement
    as JSON. Heartbeats are comment lines (starting with `:`) and carry no event."""

    id: uuid.UUID = Field(description="The movement's id; send it as Last-Event-ID to resume")
    event: Literal["movement"] = Field(description="The event name")
    data: MovementRead = Field(description="The movement, as GET /stock/movements/{id} shows it")


class FeedEvent(Output):
    """One Server-Sent Event of the change feed (GET /events/stream): `event:` the type,
    `id:` the event id, `data:` the event as GET /events lists it. Heartbeats are comment
    lines (starting with `:`) and carry no event."""

    id: str = Field(description="The event's id; send it as Last-Event-ID (or ?after=) to resume")
    event: str = Field(description="The event's type, e.g. movement.created")
    data: EventRead = Field(description="The event: id, type, occurred_at and data")
