"""The change feed's page (GET /api/v1/events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import Field

from src.core.event_types import EventType
from src.schemas.actor import ActorRead
from src.schemas.base import Output


class EventRead(Output):
    id: str = Field(
        description="The event's position in the feed: opaque, only ever passed back as "
        "`after` (or Last-Event-ID)"
    )
    # A plain string, not an enum: types are added over time and clients ignore unknown ones.
    type: str = Field(description=f"What happened; known today: {', '.join(sorted(EventType))}")
    occurred_at: datetime = Field(description="When the writing transaction began")
    actor: ActorRead | None = Field(
        description="Who made the change: a user or an API client; null for changes no one "
        "asked for (a reservation that expired) and for most events recorded before actors were"
    )
    data: dict[str, Any] = Field(
        description="The record after the change (a movement, product, location) or, for "
        "level.below_reorder, the level's figures"
    )


def event_json(
    id: str,
    type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    actor: dict[str, Any] | None,
) -> str:
    """An event as JSON, the one way every event is written out (stream frames, webhook
    bodies, `webhook.test`): `occurred_at` in RFC 3339 with UTC as `Z`. The feed page
    (`GET /events`) writes the same with orjson's `OPT_UTC_Z` (`FEED_JSON_OPTIONS`)."""
    author = None if actor is None else ActorRead.model_validate(actor)
    return EventRead(
        id=id, type=type, occurred_at=occurred_at, actor=author, data=data
    ).model_dump_json()


# orjson's options for a feed page: timestamps exactly as `event_json` writes them.
FEED_JSON_OPTIONS = orjson.OPT_UTC_Z


class EventPage(Output):
    """Oldest first. Unlike other lists, `next_cursor` is never null: pass it as `?after=` to
    get what happened next, now or later."""

    items: list[EventRead]
    next_cursor: str = Field(description="The position to ask after next time")
