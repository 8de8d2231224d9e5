"""Event streams (`/events/stream`, `/stock/events`): the log replayed after a position, then
followed live, in the feed's one order.

A stream keeps its last position. It catches up by reading the log itself after it (pages
of `PAGE`, each in a short session of its own: an idle stream holds no connection), then
follows what the process's one reader (`src.services.stream_hub.StreamHub`) fans out to its
mailbox, skipping what it has already passed. It yields chunks: a page of its catch-up, or
all its mailbox holds, which the response sends as one message of pre-encoded frames. A
stream that fell behind (its mailbox overflowed) catches up by itself again. As the log
hides an event until no older transaction still runs, positions only ever grow in the order
events become visible; so the switch from replay to live has no seam: no gap, no
duplicate, no reordering.

A typed stream filters on its side, and its position is the last event it went through,
matched or not: it never reads the same tail of other types twice.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.core.exceptions import CursorExpired, MalformedRequest
from src.core.logging import get_logger
from src.core.notifications import NotificationBroker, Subscription
from src.repositories.event.log import EventRepository
from src.repositories.event.position import Position
from src.repositories.event.scan import LogEvent, Scan, resolved, scan_after
from src.repositories.stock.read import StockRepository
from src.schemas.feed import event_json
from src.schemas.stock import MovementRead
from src.services.feed import decode_position, encode_position
from src.services.stream_hub import PAGE, SharedEvent, StreamedEvent, StreamHub

log = get_logger(__name__)

# A stream waits this long for the process's reader to start (the database answering).
READY_SECONDS = 10.0
# An idle stream looks at its mailbox this often even when not woken (a safety net).
IDLE_SECONDS = 30.0
MOVEMENTS = frozenset({EventType.MOVEMENT_CREATED.value})

Render = Callable[[LogEvent], StreamedEvent]
# What a stream sends at once (never empty), oldest first.
Chunk = tuple[StreamedEvent, ...]

__all__ = ["Chunk", "LogStream", "StreamService", "StreamedEvent"]


class LogStream:
    def __init__(
        self,
        read: Callable[[Position], Awaitable[Scan]],
        hub: StreamHub,
        subscription: Subscription,
        start: Position,
        types: frozenset[str],
        render: tuple[str, Render],
    ) -> None:
        self._read = read
        self._hub = hub
        self._subscription = subscription
        self._start = start
        self._types = types
        self._kind, self._render = render

    def close(self) -> None:
        """End the stream cleanly (server shutdown): the iterator stops after this."""
        self._subscription.close()

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        """What the stream sends, a chunk at a time: a page of its catch-up, or everything its
        mailbox holds (one send per wake, however many events and batches that is)."""
        subscription = self._subscription
        last = self._start
        subscription.lagging = True  # first, catch up by itself
        while not subscription.closed:
            if subscription.lagging:
                # Only once the reader has its position (it restarts if it had stopped).
                if not await self._hub.ready(READY_SECONDS):
                    log.warning("event_stream_read_failed", error="reader not ready")
                    return
                subscription.resync()
                while True:
                    try:
                        scan = await self._read(last)
                    except (SQLAlchemyError, OSError) as exc:
                        # End cleanly; the client reconnects with Last-Event-ID, loses nothing.
                        log.warning("event_stream_read_failed", error=type(exc).__name__)
                        return
                    if scan.events:
                        yield tuple(self._render(event) for event in scan.events)
                    if scan.through is not None:
                        last = scan.through
                    if len(scan.events) < PAGE or subscription.closed:
                        break
                continue
            if not subscription.pending:
                await subscription.wait(IDLE_SECONDS)
                if not subscription.pending and not self._hub.running:
                    subscription.lagging = True  # the reader stopped: catch up, restart it
                continue
            chunk: list[StreamedEvent] = []
            while subscription.pending:
                batch = subscription.pending.popleft()
                for shared in batch.events:
                    if self._wanted(shared, last):
                        chunk.append(shared.render(self._kind, self._render))
                last = max(last, batch.through)
            if chunk:
                yield tuple(chunk)

    def _wanted(self, shared: SharedEvent, last: Position) -> bool:
        event = shared.event
        return event.position > last and (not self._types or event.type in self._types)


class StreamService:
    """Streams outlive the request's transaction: every read opens its own short session."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        broker: NotificationBroker,
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
            yield self._stream(subscription, start, frozenset(types), ("feed", self._feed_event))

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
            yield self._stream(subscription, start, MOVEMENTS, ("movement", _movement_event))

    def _stream(
        self,
        subscription: Subscription,
        start: Position,
        types: frozenset[str],
        render: tuple[str, Render],
    ) -> LogStream:
        async def read(after: Position) -> Scan:
            async with self.session_factory() as session:
                return await scan_after(session, after, types=types, limit=PAGE)

        return LogStream(read, self._hub(), subscription, start, types, render)

    def _hub(self) -> StreamHub:
        """The process's one reader, started with its first stream."""
        hub = self.broker.reader
        if not isinstance(hub, StreamHub):
            hub = StreamHub(self.session_factory, self.broker)
            self.broker.reader = hub
        return hub

    def _feed_event(self, event: LogEvent) -> StreamedEvent:
        id_ = encode_position(self.codec, event.position)
        data = event_json(id_, event.type, event.occurred_at, event.data, event.actor)
        return StreamedEvent(id=id_, type=event.type, data=data)

    async def _now(self) -> Position:
        """Where a stream without a position starts: after the newest visible event, so an
        event still held back by an older transaction is delivered once it is visible."""
        async with self.session_factory() as session:
            return await EventRepository(session).current_position()

    async def _resumable(self, position: Position) -> Position:
        """`position`, with the xid its event has now (see `resolved`): the stream compares
        it with the positions the reader fans out. CursorExpired past retention."""
        async with self.session_factory() as session:
            if await EventRepository(session).expired(position):
                raise CursorExpired(
                    "Events after this position are past retention and were deleted; "
                    "reconnect without Last-Event-ID"
                )
            return await resolved(session, position)

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


def _movement_event(event: LogEvent) -> StreamedEvent:
    movement = MovementRead.model_validate(event.data)
    return StreamedEvent(id=str(movement.id), type="movement", data=movement.model_dump_json())
