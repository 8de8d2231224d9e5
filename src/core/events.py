"""Wake-ups for the event streams: one LISTEN on the feed's channel per process.

The event log is the truth; a NOTIFY on `events` (sent by the unit of work with each
commit that appended events) only tells this process's streams to read the log again from
their own last position. A stream's subscription is one flag, whatever the number of
notifications, so memory per stream is bounded and a slow client holds back nobody.

A NOTIFY can come before its events are visible (an older transaction still runs), and
one sent while the connection was down is lost. So every EVENTS_POLL_SECONDS the listener
also asks, on its own connection, for the oldest running transaction
(`pg_snapshot_xmin`): events only ever become visible when it advances, so the streams are
woken exactly then. One tiny query per process, however many streams: idle streams cost
the database nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from src.core.event_types import FEED_CHANNEL
from src.core.exceptions import RateLimited, ServiceUnavailable
from src.core.logging import get_logger

_RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
# How the listening connection shows in pg_stat_activity.
LISTENER_NAME = "stockroom-events-listener"

log = get_logger(__name__)


@dataclass(eq=False)
class Subscription:
    """One stream's wake-up flag; `closed` once the stream must end (shutdown)."""

    user_id: uuid.UUID
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def wait(self, seconds: float) -> None:
        """Until woken (or closed), at most `seconds`; the flag is cleared."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)
        self.wake.clear()


def asyncpg_dsn(database_url: str) -> tuple[str, dict[str, Any]]:
    """A plain asyncpg DSN (and socket host, if any) from the SQLAlchemy URL."""
    url = make_url(database_url)
    query = dict(url.query)
    host = query.pop("host", None)
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return dsn, ({"host": host} if host else {})


class EventBroker:
    def __init__(
        self, database_url: str, *, max_streams_per_user: int, poll_seconds: float = 1.5
    ) -> None:
        self._dsn, self._connect_kwargs = asyncpg_dsn(database_url)
        self.max_streams_per_user = max_streams_per_user
        self.poll_seconds = poll_seconds
        self._subscriptions: set[Subscription] = set()
        self._per_user: Counter[uuid.UUID] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        # How long a new stream waits for the LISTEN connection before answering 503.
        self.listen_timeout = 10.0

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[Subscription]:
        """Register a stream (RateLimited past the per-user cap, ServiceUnavailable when the
        database cannot be listened to); always unregistered."""
        if self._per_user[user_id] >= self.max_streams_per_user:
            raise RateLimited(
                f"At most {self.max_streams_per_user} event streams per user", retry_after=5
            )
        subscription = Subscription(user_id)
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

    def wake_all(self) -> None:
        """Tell every stream of this process to read the log again."""
        for subscription in self._subscriptions:
            subscription.wake.set()

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
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
        """Until the connection closes: wake the streams whenever the oldest running
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
