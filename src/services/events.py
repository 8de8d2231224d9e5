"""Event streams (`/events/stream`, `/stock/events`): the log replayed after a position, then
followed live, in the feed's one order.

A stream keeps its last position and only ever reads the log after it (pages of `PAGE`,
each in a short session of its own: an idle stream holds no connection). The broker only
wakes it: on a NOTIFY, and whenever held-back events may have become visible (see
`src.core.events`); as the log hides an event until no older transaction still runs, an
event held back when it was notified is read on a later wake. So the switch from replay to
live has no seam: no gap, no duplicate, no reordering.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.core.events import EventBroker, Subscription
from src.core.exceptions import CursorExpired, MalformedRequest
from src.core.logging import get_logger
from src.models.event import Event
from src.repositories.events import EventRepository, Position
from src.repositories.stock import StockRepository
from src.schemas.feed import event_json
from src.schemas.stock import MovementRead
from src.services.feed import decode_position, encode_position, position_of

log = get_logger(__name__)

PAGE = 100
# A stream also re-reads on its own this often: a safety net, should its wake-ups stop.
FALLBACK_SECONDS = 30.0
MOVEMENTS = frozenset({EventType.MOVEMENT_CREATED.value})


@dataclass(frozen=True)
class StreamedEvent:
    """One Server-Sent Event: its `id:`, `event:` and `data:` (JSON)."""

    id: str
    type: str
    data: str


Render = Callable[[Event], StreamedEvent]


class LogStream:
    def __init__(
        self,
        read: Callable[[Position], Awaitable[list[Event]]],
        subscription: Subscription,
        start: Position,
        render: Render,
    ) -> None:
        self._read = read
        self._subscription = subscription
        self._start = start
        self._render = render

    def close(self) -> None:
        """End the stream cleanly (server shutdown): the iterator stops after this."""
        self._subscription.close()

    async def __aiter__(self) -> AsyncIterator[StreamedEvent]:
        last = self._start
        while not self._subscription.closed:
            # Cleared before reading: a wake-up that arrives during the read is not lost.
            self._subscription.wake.clear()
            try:
                page = await self._read(last)
            except (SQLAlchemyError, OSError) as exc:
                # End cleanly; the client reconnects with Last-Event-ID and misses nothing.
                log.warning("event_stream_read_failed", error=type(exc).__name__)
                return
            for event in page:
                last = position_of(event)
                yield self._render(event)
            if len(page) < PAGE:
                await self._subscription.wait(FALLBACK_SECONDS)


class EventService:
    """Streams outlive the request's transaction: every read opens its own short session."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        broker: EventBroker,
        codec: CursorCodec,
    ) -> None:
        self.session_factory = session_factory
        self.broker = broker
        self.codec = codec

    @contextlib.asynccontextmanager
    async def open_feed(
        self, user_id: uuid.UUID, after: str | None, types: Collection[str]
    ) -> AsyncIterator[LogStream]:
        """The feed after the event `after` names (400 when it is not one of ours, 410 past
        retention), or from now without it; then live. RateLimited past the per-user cap."""
        if after is not None:
            start = await self._resumable(decode_position(self.codec, after.strip()))
        else:
            start = await self._now()
        async with self.broker.subscribe(user_id) as subscription:
            yield self._stream(subscription, start, frozenset(types), self._feed_event)

    @contextlib.asynccontextmanager
    async def open_movements(
        self, user_id: uuid.UUID, last_event_id: str | None
    ) -> AsyncIterator[LogStream]:
        """Movements after the one `last_event_id` names (its place in the log; 400 when it
        names none, 410 past retention), or from now without it; then live."""
        if last_event_id is not None and last_event_id.strip():
            start = await self._resumable(await self._movement_position(last_event_id))
        else:
            start = await self._now()
        async with self.broker.subscribe(user_id) as subscription:
            yield self._stream(subscription, start, MOVEMENTS, _movement_event)

    def _stream(
        self, subscription: Subscription, start: Position, types: frozenset[str], render: Render
    ) -> LogStream:
        async def read(after: Position) -> list[Event]:
            async with self.session_factory() as session:
                return await EventRepository(session).read_after(after, types=types, limit=PAGE)

        return LogStream(read, subscription, start, render)

    def _feed_event(self, event: Event) -> StreamedEvent:
        id_ = encode_position(self.codec, position_of(event))
        data = event_json(id_, event.type, event.occurred_at, event.data)
        return StreamedEvent(id=id_, type=event.type, data=data)

    async def _now(self) -> Position:
        """Where a stream without a position starts: after the newest visible event, so an
        event still held back by an older transaction is delivered once it is visible."""
        async with self.session_factory() as session:
            return await EventRepository(session).current_position()

    async def _resumable(self, position: Position) -> Position:
        async with self.session_factory() as session:
            expired = await EventRepository(session).expired(position)
        if expired:
            raise CursorExpired(
                "Events after this position are past retention and were deleted; "
                "reconnect without Last-Event-ID"
            )
        return position

    async def _movement_position(self, value: str) -> Position:
        try:
            movement_id = uuid.UUID(value.strip())
        except ValueError:
            raise MalformedRequest("Last-Event-ID is not a movement id") from None
        async with self.session_factory() as session:
            position = await EventRepository(session).position_of_movement(movement_id)
            if position is not None:
                return position
            known = await StockRepository(session).movement(movement_id) is not None
        if known:  # its event was purged: what followed it may be gone too
            raise CursorExpired(
                "This movement is past the event log's retention; reconnect without Last-Event-ID"
            )
        raise MalformedRequest("Last-Event-ID names no movement")


def _movement_event(event: Event) -> StreamedEvent:
    movement = MovementRead.model_validate(event.data)
    return StreamedEvent(id=str(movement.id), type="movement", data=movement.model_dump_json())
