"""The change feed's page (GET /api/v1/events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from src.core.event_types import EventType
from src.schemas.base import Output


class EventRead(Output):
    id: str = Field(
        description="The event's position in the feed: opaque, only ever passed back as "
        "`after` (or Last-Event-ID)"
    )
    # A plain string, not an enum: types are added over time and clients ignore unknown ones.
    type: str = Field(description=f"What happened; known today: {', '.join(sorted(EventType))}")
    occurred_at: datetime = Field(description="When the writing transaction began")
    data: dict[str, Any] = Field(
        description="The record after the change (a movement, product, location) or, for "
        "level.below_reorder, the level's figures"
    )


class EventPage(Output):
    """Oldest first. Unlike other lists, `next_cursor` is never null: pass it as `?after=` to
    get what happened next, now or later."""

    items: list[EventRead]
    next_cursor: str = Field(description="The position to ask after next time")
