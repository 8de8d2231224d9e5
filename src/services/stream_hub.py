"""The process's one reader of the event log for its streams (`/events/stream`,
`/stock/events`).

Woken by the broker (a NOTIFY, or the oldest running transaction moving on), it reads the
log after its own last position, every type, in pages, and hands each page to every open
stream's mailbox (`Subscription.deliver`, which never waits): one read per wake per
process, whatever the number of streams. Each stream filters and renders on its side; a
rendering (with its SSE frame's bytes) is kept with the event, so streams of one kind encode
an event once between them.

Wakes are coalesced: once woken, the reader waits `broker.coalesce_seconds` (SSE_COALESCE_MS)
before it reads, so a burst of commits is one read, one batch per mailbox and one send per
stream, instead of one each per commit. That delay is added to every live event's latency.

It starts with the first stream (lazily: it needs the database the streams use), from the
current end of the log, and stops when the last stream has gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.logging import get_logger
from src.core.notifications import NotificationBroker
from src.core.sse_frames import sse_frame
from src.repositories.event.log import EventRepository
from src.repositories.event.position import Position
from src.repositories.event.scan import LogEvent, Scan, scan_after

log = get_logger(__name__)

PAGE = 100
# The reader also reads on its own this often: a safety net, should its wake-ups stop.
FALLBACK_SECONDS = 30.0
# After a failed read (the database restarting), the reader tries again this soon.
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class StreamedEvent:
    """One Server-Sent Event: its `id:`, `event:` and `data:` (JSON)."""

    id: str
    type: str
    data: str
    # The event as sent (`sse_frame`), encoded once with the rendering streams share.
    frame: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", sse_frame(self.id, self.type, self.data))


@dataclass(eq=False)
class SharedEvent:
    """An event as fanned out to every stream, with its renderings by kind (one each)."""

    event: LogEvent
    rendered: dict[str, StreamedEvent] = field(default_factory=dict)

    def render(self, kind: str, render: Callable[[LogEvent], StreamedEvent]) -> StreamedEvent:
        done = self.rendered.get(kind)
        if done is None:
            done = self.rendered[kind] = render(self.event)
        return done


class Batch(NamedTuple):
    """One read of the log: its events, oldest first, and the position it went through."""

    events: tuple[SharedEvent, ...]
    through: Position


class StreamHub:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], broker: NotificationBroker
    ) -> None:
        self._session_factory = session_factory
        self._broker = broker
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.position: Position | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def ready(self, seconds: float) -> bool:
        """Start reading (with the first stream) and wait until the reader has its position:
        a stream catches up by itself only after that, so nothing falls between its own
        reads and the batches it gets. False when the database did not answer in time."""
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.create_task(self._run())
            # A reader starts at the end of the log: streams already open (if the last one
            # stopped) catch up by themselves from their own positions.
            for subscription in self._broker.subscriptions:
                subscription.lagging = True
                subscription.wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), seconds)
        return self._ready.is_set()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._ready.clear()

    async def _run(self) -> None:
        while True:
            try:
                async with self._session_factory() as session:
                    position = await EventRepository(session).current_position()
                break
            except Exception as exc:  # retried, whatever it was: streams wait on it
                log.warning("event_reader_failed", error=type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
        self.position = position
        self._ready.set()
        while True:
            # Cleared before reading: a wake-up that arrives during the read is not lost.
            self._wake.clear()
            if not self._broker.stream_count:
                break
            try:
                position = await self._read_to_the_end(position)
            except Exception as exc:  # whatever it was: streams wait on it
                # The log keeps everything: read again shortly, from the same position.
                log.warning("event_reader_failed", error=type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FALLBACK_SECONDS)
            if self._wake.is_set() and self._broker.coalesce_seconds > 0:
                # The commits of a burst wake it many times: one read takes them all.
                await asyncio.sleep(self._broker.coalesce_seconds)
        # No stream left: stop (the next stream starts a reader at the end of the log).
        self._ready.clear()
        self.position = None

    async def _read_to_the_end(self, position: Position) -> Position:
        """Read and fan out everything visible after `position`; where that got to."""
        while True:
            scan = await self._read(position)
            if scan.through is not None and scan.events:
                batch = Batch(tuple(SharedEvent(event) for event in scan.events), scan.through)
                for subscription in self._broker.subscriptions:
                    subscription.deliver(batch)
                position = self.position = scan.through
            if len(scan.events) < PAGE:
                return position

    async def _read(self, after: Position) -> Scan:
        async with self._session_factory() as session:
            return await scan_after(session, after, types=(), limit=PAGE)
