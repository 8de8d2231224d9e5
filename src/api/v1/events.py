"""GET /events: the change feed, polled by position (oldest first); GET /events/stream: the
same feed as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

import orjson
from fastapi import Depends, Header, Query, Response
from sse_starlette import EventSourceResponse

from src.api.deps import CanReadEvents, StreamServiceDep
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.streams import StreamCaller, event_source
from src.api.v1.prefix import API_V1
from src.dependencies import CursorCodecDep, SessionDep, SettingsDep
from src.schemas.feed import FEED_JSON_OPTIONS, EventPage
from src.schemas.filter import EventFilter, EventStreamFilter
from src.services.feed import FeedPage, FeedService
from src.services.stream import LogStream

router = PrefixRouter(prefix=f"{API_V1}/events", tags=["events"])


async def get_feed_service(session: SessionDep, codec: CursorCodecDep) -> FeedService:
    return FeedService(session, codec)


FeedServiceDep = Annotated[FeedService, Depends(get_feed_service)]


@router.get(
    "",
    operation_id="listEvents",
    response_model=EventPage,
    responses=problem_responses(400, 401, 410, 422),
)
async def list_events(
    _: CanReadEvents,
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
    start: Annotated[
        Literal["earliest", "latest"],
        Query(
            description="Where to start without `after`: `earliest` (the default), the oldest "
            "retained event; `latest`, the current end: no events, and a `next_cursor` that "
            "gets only what happens from now on (with `after`: 422)",
        ),
    ] = "earliest",
) -> Response:
    """Everything that changed, oldest first, in an order no later commit can insert into:
    pass `next_cursor` back as `after` to get what happened next (it is never null)."""
    page = await service.page(filters, after=after, limit=limit, latest=start == "latest")
    return Response(_page_json(page), media_type="application/json")


def _page_json(page: FeedPage) -> bytes:
    """An `EventPage`, each event's data embedded as stored (`orjson.Fragment`): decoding a
    page of events' JSON and encoding it again was most of the page's CPU. Timestamps are
    written as `event_json` writes them (UTC as `Z`)."""
    return orjson.dumps(
        {
            "items": [
                {
                    "id": item.id,
                    "type": item.type,
                    "occurred_at": item.occurred_at,
                    "actor": None if item.actor is None else orjson.Fragment(item.actor),
                    "data": orjson.Fragment(item.data),
                }
                for item in page.events
            ],
            "next_cursor": page.next_cursor,
        },
        option=FEED_JSON_OPTIONS,
    )


async def open_feed_stream(
    caller: StreamCaller,
    service: StreamServiceDep,
    filters: Annotated[EventStreamFilter, Query()],
    after: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="An event id: start after it. Last-Event-ID, when sent, wins (a "
            "browser's EventSource reconnects to the same URL with the newest id there)",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=2048,
            description="The id of the last event received: resume after it",
        ),
    ] = None,
) -> AsyncIterator[LogStream]:
    """The stream's slot, taken before the response starts (a refusal is a problem) and
    given back when the request ends; see `/stock/events`."""
    resume = last_event_id if last_event_id is not None and last_event_id.strip() else after
    async with service.open_feed(caller.principal.id, resume, filters.type_set) as stream:
        yield stream


@router.get(
    "/stream",
    operation_id="streamEvents",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "One event per feed event (`event:` its type, `id:` its id, "
            "`data:` the event JSON as GET /events lists it); heartbeat comments at least "
            "every 15 s",
            "content": {"text/event-stream": {}},
        },
        **problem_responses(400, 401, 410, 422, 429, 503),
    },
)
async def stream_events(
    stream: Annotated[LogStream, Depends(open_feed_stream, scope="request")],
    caller: StreamCaller,
    settings: SettingsDep,
) -> EventSourceResponse:
    """The change feed live: after `Last-Event-ID` (or `after`) with the feed's gap-free
    guarantee, else from now; then every event as it becomes visible. Ends when its
    credential does; the client reconnects with Last-Event-ID and a fresh credential."""
    return event_source(stream, access=caller, settings=settings)
