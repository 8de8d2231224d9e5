"""Fan-out of committed stock movements to Server-Sent-Event streams.

Each process holds one dedicated PostgreSQL connection that LISTENs on `stock_movements`;
postings NOTIFY in their own transaction, so PostgreSQL delivers an event only once the
movement has committed, to every listening process of every instance. Subscribers get a
bounded queue each; one that cannot keep up is dropped (its client reconnects with
Last-Event-ID and replays from the ledger) rather than slowing everyone down.
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

from src.core.exceptions import RateLimited, ServiceUnavailable
from src.core.logging import get_logger

CHANNEL = "stock_movements"
QUEUE_SIZE = 1000
_RECONNECT_SECONDS = 1.0

log = get_logger(__name__)


@dataclass(eq=False)
class Subscription:
    user_id: uuid.UUID
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )


def asyncpg_dsn(database_url: str) -> tuple[str, dict[str, Any]]:
    """A plain asyncpg DSN (and socket host, if any) from the SQLAlchemy URL."""
    url = make_url(database_url)
    query = dict(url.query)
    host = query.pop("host", None)
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return dsn, ({"host": host} if host else {})


class MovementBroker:
    def __init__(self, database_url: str, *, max_streams_per_user: int) -> None:
        self._dsn, self._connect_kwargs = asyncpg_dsn(database_url)
        self.max_streams_per_user = max_streams_per_user
        self._subscriptions: set[Subscription] = set()
        self._per_user: Counter[uuid.UUID] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        # How long a new stream waits for the LISTEN connection before answering 503.
        self.listen_timeout = 10.0

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[Subscription]:
        """Register a stream (RateLimited past the per-user cap); always unregistered."""
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

    def publish_local(self, payload: str) -> None:
        """Deliver one movement (JSON) to every subscriber of this process."""
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(payload)
            except asyncio.QueueFull:
                # Too slow: end its stream; the client resumes from the ledger.
                self._subscriptions.discard(subscription)
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(None)

    async def close(self) -> None:
        self._end_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen_forever())

    async def _listen_forever(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._dsn, **self._connect_kwargs)
                await connection.add_listener(CHANNEL, self._on_notify)
                self._listening.set()
                closed = asyncio.Event()
                connection.add_termination_listener(_setter(closed))
                await closed.wait()
                log.warning("event_listener_lost")
                self._end_streams()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("event_listener_down", error=type(exc).__name__)
                self._end_streams()
            finally:
                self._listening.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(_RECONNECT_SECONDS)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: object) -> None:
        self.publish_local(str(payload))

    def _end_streams(self) -> None:
        """Events may have been missed while the listener was down: end every stream so
        its client reconnects with Last-Event-ID and replays the gap from the ledger."""
        for subscription in list(self._subscriptions):
            self._subscriptions.discard(subscription)
            with contextlib.suppress(asyncio.QueueFull):
                subscription.queue.put_nowait(None)


def _setter(event: asyncio.Event) -> Any:
    def on_close(_connection: object) -> None:
        event.set()

    return on_close
