"""GET /events: the change feed, polled by position (oldest first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from src.api.deps import CurrentUser
from src.api.responses import problem_responses
from src.api.v1.prefix import API_V1
from src.dependencies import CursorCodecDep, SessionDep
from src.schemas.feed import EventPage, EventRead
from src.schemas.filters import EventFilter
from src.services.feed import FeedService

router = APIRouter(prefix=f"{API_V1}/events", tags=["events"])


async def get_feed_service(session: SessionDep, codec: CursorCodecDep) -> FeedService:
    return FeedService(session, codec)


FeedServiceDep = Annotated[FeedService, Depends(get_feed_service)]


@router.get("", operation_id="listEvents", responses=problem_responses(400, 401, 410, 422))
async def list_events(
    _: CurrentUser,
    service: FeedServiceDep,
    filters: Annotated[EventFilter, Query()],
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    after: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="An event id (or a previous `next_cursor`): events after it. Absent: "
            "from the oldest retained event",
        ),
    ] = None,
) -> EventPage:
    """Everything that changed, oldest first, in an order no later commit can insert into:
    pass `next_cursor` back as `after` to get what happened next (it is never null)."""
    page = await service.page(filters, after=after, limit=limit)
    return EventPage(
        items=[
            EventRead(id=id_, type=e.type, occurred_at=e.occurred_at, data=e.data)
            for id_, e in page.events
        ],
        next_cursor=page.next_cursor,
    )
