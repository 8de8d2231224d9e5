"""Live movement streams: replay from the ledger after Last-Event-ID, then follow the
broker, without gaps or duplicates across the switch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.events import MovementBroker, Subscription
from src.repositories.stock import StockRepository
from src.schemas.stock import MovementRead

_REPLAY_PAGE = 500


@dataclass(frozen=True)
class MovementEvent:
    id: str
    data: str


class EventStream:
    """One client's events: the replay after Last-Event-ID, then live ones, deduplicated.

    Subscribed before replaying, so anything committed meanwhile is queued, and ids already
    replayed are skipped when the queue is drained.
    """

    def __init__(
        self, service: EventService, subscription: Subscription, after: uuid.UUID | None
    ) -> None:
        self._service = service
        self._subscription = subscription
        self._after = after

    def close(self) -> None:
        """End the stream cleanly (server shutdown): the iterator stops after this."""
        with contextlib.suppress(asyncio.QueueFull):
            self._subscription.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[MovementEvent]:
        replayed: set[str] = set()
        if self._after is not None:
            async for event in self._service._replay(self._after):
                replayed.add(event.id)
                yield event
        while True:
            payload = await self._subscription.queue.get()
            if payload is None:
                return
            live = await self._service._event(payload)
            if live is None or live.id in replayed:
                continue
            yield live


class EventService:
    """Streams open their own short sessions: a stream outlives the request's transaction."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], broker: MovementBroker
    ) -> None:
        self.session_factory = session_factory
        self.broker = broker

    @contextlib.asynccontextmanager
    async def open_stream(
        self, user_id: uuid.UUID, last_event_id: str | None
    ) -> AsyncIterator[EventStream]:
        """Subscribe now (RateLimited past the per-user cap), yield the stream."""
        async with self.broker.subscribe(user_id) as subscription:
            yield EventStream(self, subscription, _parse_id(last_event_id))

    async def _replay(self, after: uuid.UUID) -> AsyncIterator[MovementEvent]:
        while True:
            async with self.session_factory() as session:
                page = await StockRepository(session).movements_after(after, limit=_REPLAY_PAGE)
            for movement in page:
                yield _to_event(movement)
            if len(page) < _REPLAY_PAGE:
                return
            after = page[-1].id

    async def _event(self, payload: str) -> MovementEvent | None:
        if payload.startswith("{"):
            return MovementEvent(id=str(json.loads(payload)["id"]), data=payload)
        async with self.session_factory() as session:  # an oversized movement: load it
            movement = await StockRepository(session).movement(uuid.UUID(payload))
        return None if movement is None else _to_event(movement)


def _to_event(movement: object) -> MovementEvent:
    read = MovementRead.model_validate(movement)
    return MovementEvent(id=str(read.id), data=read.model_dump_json())


def _parse_id(value: str | None) -> uuid.UUID | None:
    """A Last-Event-ID that is not one of ours means "no resumption", not an error: browsers
    reconnect on their own and must not be refused forever."""
    if not value:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None
