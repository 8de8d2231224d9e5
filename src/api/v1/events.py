"""GET /stock/events: committed movements as Server-Sent Events, from every instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from src.api.deps import CurrentUser, EventServiceDep
from src.api.responses import problem_responses
from src.api.v1.prefix import API_V1
from src.dependencies import SettingsDep
from src.services.events import EventStream

router = APIRouter(prefix=f"{API_V1}/stock", tags=["stock"])


async def open_stream(
    user: CurrentUser,
    service: EventServiceDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> AsyncIterator[EventStream]:
    """The user's stream slot: taken before the response starts, so a refused one is a 429
    problem, and given back when the request ends (scope "request": after the response),
    whether the stream ran, the client left before its first byte, or it was never sent."""
    async with service.open_stream(user.id, last_event_id) as stream:
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
        **problem_responses(401, 429),
    },
)
async def stock_events(
    stream: Annotated[EventStream, Depends(open_stream, scope="request")],
    settings: SettingsDep,
) -> EventSourceResponse:
    """Follow the ledger live; send Last-Event-ID to resume after a movement."""
    shutdown = anyio.Event()

    async def end_on_shutdown() -> None:
        await shutdown.wait()
        stream.close()  # SIGTERM: finish the response cleanly instead of cutting it

    async def sse() -> AsyncIterator[ServerSentEvent]:
        watcher = asyncio.create_task(end_on_shutdown())
        try:
            async for event in stream:
                yield ServerSentEvent(data=event.data, id=event.id, event="movement")
        finally:
            watcher.cancel()

    return EventSourceResponse(
        sse(),
        ping=settings.sse_heartbeat_seconds,
        shutdown_event=shutdown,
        shutdown_grace_period=2,
    )
