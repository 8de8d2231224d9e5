"""Wake-ups for the event streams: one LISTEN on the feed's channel per process.

The event log is the truth; a NOTIFY on `events` (sent by the unit of work with each
commit that appended events) only tells this process's one reader of the log (`reader`,
see `src.services.stream_hub`) to read it again from its last position; the reader fans
what it read out to the streams' subscriptions. So a wake costs one read per process,
however many streams are open. A subscription's mailbox is bounded: a stream that falls
behind is marked `lagging` (its mailbox emptied) and catches up by reading the log itself,
so a slow client holds back nobody and memory per stream stays bounded.

A NOTIFY can come before its events are visible (an older transaction still runs), and
one sent while the connection was down is lost. So every EVENTS_POLL_SECONDS the listener
also asks, on its own connection, for the oldest running transaction
(`pg_snapshot_xmin`): events only ever become visible when it advances, so the reader is
woken exactly then. One tiny query per process, however many streams: idle streams cost
the database nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url

from src.core.event_types import FEED_CHANNEL
from src.core.exceptions import RateLimited, ServiceUnavailable, StreamsFull
from src.core.logging import get_logger

_RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
# How the listening connection shows in pg_stat_activity.
LISTENER_NAME = "stockroom-events-listener"
# Batches a stream's mailbox holds before the stream counts as lagging (each batch is one
# read of the log, at most a page of events, shared by every stream: a mailbox holds only
# references). A lagging stream reads the log itself, which costs far more than this.
MAILBOX_BATCHES = 1024
# Seconds a client refused for the process-wide stream cap is asked to wait.
STREAMS_FULL_RETRY_SECONDS = 5

log = get_logger(__name__)


class Reader(Protocol):
    """The process's one reader of the log: woken on every possible change."""

    def wake(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(eq=False)
class Subscription:
    """One stream's mailbox: what the reader fans out to it (bounded; past `capacity` it is
    `lagging` and gets nothing until it has caught up itself), its wake-up flag, and
    `closed` once the stream must end (shutdown, its credential's end)."""

    user_id: uuid.UUID
    capacity: int = MAILBOX_BATCHES
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    lagging: bool = False
    pending: deque[Any] = field(default_factory=deque)

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def deliver(self, batch: Any) -> None:
        """Queue a batch without ever waiting: a full mailbox is dropped and marked lagging."""
        if self.closed or self.lagging:
            return
        if len(self.pending) >= self.capacity:
            self.lagging = True
            self.pending.clear()
        else:
            self.pending.append(batch)
        self.wake.set()

    def resync(self) -> None:
        """Before the stream catches up by itself: from now on batches are queued again."""
        self.lagging = False
        self.pending.clear()

    async def wait(self, seconds: float) -> None:
        """Until woken (or closed), at most `seconds`; the flag is cleared. Called by every
        stream on every read the reader fans out: `asyncio.timeout` rather than `wait_for`,
        which wraps the wait in a task of its own each time."""
        if not self.wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.wake.wait()
        self.wake.clear()


def asyncpg_dsn(database_url: str) -> tuple[str, dict[str, Any]]:
    """A plain asyncpg DSN (and socket host, if any) from the SQLAlchemy URL."""
    url = make_url(database_url)
    query = dict(url.query)
    host = query.pop("host", None)
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return dsn, ({"host": host} if host else {})


class NotificationBroker:
    def __init__(
        self,
        database_url: str,
        *,
        max_streams_per_user: int,
        max_streams: int = 1000,
        poll_seconds: float = 1.5,
        coalesce_seconds: float = 0.0,
    ) -> None:
        self._dsn, self._connect_kwargs = asyncpg_dsn(database_url)
        self.max_streams_per_user = max_streams_per_user
        self.max_streams = max_streams
        self.poll_seconds = poll_seconds
        # How long the reader, once woken, lets more commits gather before it reads.
        self.coalesce_seconds = coalesce_seconds
        self._subscriptions: set[Subscription] = set()
        self._per_user: Counter[uuid.UUID] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        # How long a new stream waits for the LISTEN connection before answering 503.
        self.listen_timeout = 10.0
        # The process's one reader of the log, set by the first stream (it needs a database).
        self.reader: Reader | None = None
        # How many batches a stream's mailbox holds before the stream counts as lagging.
        self.mailbox_batches = MAILBOX_BATCHES

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[Subscription]:
        """Register a stream (RateLimited past the per-user cap, StreamsFull past the
        process's, ServiceUnavailable when the database cannot be listened to); always
        unregistered."""
        if self._per_user[user_id] >= self.max_streams_per_user:
            raise RateLimited(
                f"At most {self.max_streams_per_user} event streams per user", retry_after=5
            )
        if len(self._subscriptions) >= self.max_streams:
            raise StreamsFull(
                "This server holds as many event streams as it may; retry shortly",
                retry_after=STREAMS_FULL_RETRY_SECONDS,
            )
        subscription = Subscription(user_id, capacity=self.mailbox_batches)
        self._subscriptions.add(subscription)
        self._per_user[user_id] += 1
        self._ensure_listening()
        try:
            try:
                await asyncio.wait_for(self._listening.wait(), timeout=self.listen_timeout)
            except TimeoutError:  # the database cannot be listened to: an outage, not a bug
                raise ServiceUnavailable("Live events are unavailable; retry shortly") from None
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            self._per_user[user_id] -= 1
            if self._per_user[user_id] <= 0:
                del self._per_user[user_id]

    @property
    def stream_count(self) -> int:
        return len(self._subscriptions)

    @property
    def subscriptions(self) -> list[Subscription]:
        """The open streams' subscriptions (a copy: streams come and go meanwhile)."""
        return list(self._subscriptions)

    def wake_all(self) -> None:
        """Tell this process's reader to read the log again (it fans out to the streams)."""
        if self.reader is not None:
            self.reader.wake()

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        if self.reader is not None:
            await self.reader.aclose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen_forever())

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(
                    self._dsn,
                    server_settings={"application_name": LISTENER_NAME},
                    **self._connect_kwargs,
                )
                await connection.add_listener(FEED_CHANNEL, self._on_notify)
                self._listening.set()
                failures = 0
                # Anything committed while no one listened is in the log: read it now.
                self.wake_all()
                closed = asyncio.Event()
                connection.add_termination_listener(_setter(closed))
                await self._watch_visibility(connection, closed)
                log.warning("event_listener_lost")
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event_listener_down", error=type(exc).__name__)
            finally:
                self._listening.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(_RECONNECT_SECONDS[min(failures, len(_RECONNECT_SECONDS) - 1)])
            failures += 1

    async def _watch_visibility(
        self, connection: asyncpg.Connection, closed: asyncio.Event
    ) -> None:
        """Until the connection closes: wake the reader whenever the oldest running
        transaction has moved on (held-back events may have become visible). It never moves
        back, so a stream that read the log since the last look has missed nothing."""
        seen = await _xmin(connection)
        while not closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), self.poll_seconds)
            if closed.is_set():
                return
            xmin = await _xmin(connection)
            if xmin != seen:
                seen = xmin
                self.wake_all()

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, _payload: object) -> None:
        self.wake_all()


async def _xmin(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))


def _setter(event: asyncio.Event) -> Any:
    def on_close(_connection: object) -> None:
        event.set()

    return on_close
