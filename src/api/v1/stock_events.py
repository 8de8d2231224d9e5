"""GET /stock/events: committed movements as Server-Sent Events, read from the event log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header
from sse_starlette import EventSourceResponse

from src.api.deps import StreamServiceDep
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.streams import StreamCaller, event_source
from src.api.v1.prefix import API_V1
from src.dependencies import SettingsDep
from src.services.stream import LogStream

router = PrefixRouter(prefix=f"{API_V1}/stock", tags=["stock"])


async def open_stream(
    caller: StreamCaller,
    service: StreamServiceDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="A movement id this stream sent: resume after it (400 when it names "
            "no movement, 410 when it is past the event log's retention)",
        ),
    ] = None,
) -> AsyncIterator[LogStream]:
    """The user's stream slot: taken before the response starts, so a refused one is a 429
    problem, and given back when the request ends (scope "request": after the response),
    whether the stream ran, the client left before its first byte, or it was never sent."""
    async with service.open_movements(caller.principal.id, last_event_id) as stream:
        yield stream


@router.get(
    "/events",
    operation_id="streamStockEvents",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "A `movement` event per committed movement (data: the movement "
            "JSON, id: its id); heartbeat comments at least every 15 s",
            "content": {"text/event-stream": {}},
        },
        **problem_responses(400, 401, 410, 429, 503),
    },
)
async def stock_events(
    stream: Annotated[LogStream, Depends(open_stream, scope="request")],
    caller: StreamCaller,
    settings: SettingsDep,
) -> EventSourceResponse:
    """Follow the ledger live, in the change feed's order; send Last-Event-ID to resume after
    a movement. The stream ends when its credential does (expiry, logout, deactivation,
    password change)."""
    return event_source(stream, access=caller, settings=settings)
