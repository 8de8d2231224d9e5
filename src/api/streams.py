"""What every Server-Sent-Events endpoint shares: who opened the stream, and when it ends.

Browsers' EventSource cannot send headers, so a stream accepts `Authorization: Bearer` or a
stream ticket (`?ticket=`, from POST /auth/stream-tickets). `StreamCaller` is the caller and
its lifetime; `event_source` finishes the response cleanly (the client reconnects, with a
fresh credential) at shutdown, when the access token behind the stream expires, or when a
re-check finds the user deactivated, the password changed or the session ended (for an API
client: the client revoked or deactivated, or a scope of the token taken from it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

import anyio
from fastapi import Depends, Query, Security
from sse_starlette import EventSourceResponse

from src.api.deps import AuthServiceDep, authorize, oauth2_scheme
from src.config import Settings
from src.core.exceptions import Unauthorized
from src.core.scopes import Scope
from src.dependencies import DatabaseDep, SettingsDep
from src.models.principal import Principal
from src.services.auth import Grant
from src.services.stream_access import StreamAccessService

T_co = TypeVar("T_co", covariant=True)

TICKET = Query(
    max_length=4096,
    description="A stream ticket (POST /api/v1/auth/stream-tickets), for clients that cannot "
    "send headers (a browser's EventSource); instead of the Authorization header",
)


# What every event stream needs, by Bearer token or by ticket.
STREAM_SCOPE = Scope.EVENTS_READ


@dataclass(frozen=True)
class StreamAccess:
    grant: Grant
    service: StreamAccessService

    @property
    def principal(self) -> Principal:
        return self.grant.principal

    async def ended(self) -> str:
        """Return (naming why) once the stream must end."""
        return await self.service.until_ended(self.grant)


async def stream_access(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    auth: AuthServiceDep,
    database: DatabaseDep,
    settings: SettingsDep,
    ticket: Annotated[str | None, TICKET] = None,
) -> StreamAccess:
    if ticket is not None:
        grant = await auth.authenticate_ticket(ticket)
    elif token:
        grant = await auth.authenticate(token)
    else:
        raise Unauthorized(
            "Authentication required: send 'Authorization: Bearer <token>' "
            "or ?ticket=<stream ticket>"
        )
    authorize(grant.principal, STREAM_SCOPE)
    # The caller is known: the request's connection goes back to the pool before the stream
    # opens, or a burst of streams would each hold one while waiting for another (a pool
    # deadlock until DB_POOL_TIMEOUT, then 503s).
    await auth.let_go()
    service = StreamAccessService(
        database.session_factory, recheck_seconds=settings.feed.stream_auth_recheck_seconds
    )
    return StreamAccess(grant, service)


# As a `Security` dependency, the scope shows in each stream's OpenAPI security requirement.
StreamCaller = Annotated[StreamAccess, Security(stream_access, scopes=[STREAM_SCOPE.value])]


class ClosableStream(Protocol[T_co]):
    def close(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[T_co]: ...


class Framed(Protocol):
    @property
    def frame(self) -> bytes: ...


def event_source(
    stream: ClosableStream[Sequence[Framed]],
    *,
    access: StreamAccess,
    settings: Settings,
) -> EventSourceResponse:
    """The SSE response of `stream`, ended cleanly when its access or the server ends. Each
    chunk the stream yields goes out as one message: its events' frames, encoded once for
    every stream that sends them, joined (the response sends `bytes` as they are)."""
    shutdown = anyio.Event()
    ending = asyncio.Event()

    async def end_after(waiter: Awaitable[object]) -> None:
        await waiter
        ending.set()
        stream.close()  # wakes a stream waiting for its next event

    async def sse() -> AsyncIterator[bytes]:
        watchers = [
            asyncio.create_task(end_after(shutdown.wait())),  # SIGTERM
            asyncio.create_task(end_after(access.ended())),
        ]
        try:
            async for chunk in stream:
                if ending.is_set():  # e.g. in the middle of a replay
                    return
                yield chunk[0].frame if len(chunk) == 1 else b"".join(e.frame for e in chunk)
        finally:
            for watcher in watchers:
                watcher.cancel()

    return EventSourceResponse(
        sse(),
        ping=settings.feed.sse_heartbeat_seconds,
        shutdown_event=shutdown,
        shutdown_grace_period=2,
    )
