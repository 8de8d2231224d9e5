"""The change feed: pages of the event log by position, retention, and the feed's lag.

A position `(xid, seq)` travels as a signed, opaque id (the event's public `id`), made by
the same codec as list cursors: a client can pass one back but never forge or read one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.cursors import CursorCodec
from src.core.exceptions import CursorExpired, MalformedRequest, ValidationFailed
from src.core.logging import get_logger
from src.models.event import Event
from src.repositories.event.log import EventRepository
from src.repositories.event.position import BEGINNING, Position
from src.repositories.webhook.endpoint import WebhookRepository
from src.schemas.filter import EventFilter

# Every feed reader (the poll, the streams) shares this scope: one event id resumes any.
POSITION_SCOPE = "events:position"
PURGE_BATCH = 5_000

log = get_logger(__name__)


def encode_position(codec: CursorCodec, position: Position) -> str:
    return codec.encode(POSITION_SCOPE, [position.xid, position.seq])


def decode_position(codec: CursorCodec, token: str) -> Position:
    """The position an id names; MalformedRequest when the server did not issue it."""
    values = codec.decode(POSITION_SCOPE, token)
    if len(values) != 2 or not all(type(v) is int and v >= 0 for v in values):
        raise MalformedRequest("The event id is not one this server issued")
    return Position(values[0], values[1])


def position_of(event: Event) -> Position:
    return Position(int(event.xid), event.seq)


@dataclass(frozen=True)
class FeedItem:
    id: str  # the event's public id: its signed position
    type: str
    occurred_at: datetime
    data: str  # the event's JSON, as stored
    actor: str | None  # who made the change (JSON, as stored), None for background work


@dataclass(frozen=True)
class FeedPage:
    events: list[FeedItem]  # oldest first
    next_cursor: str


class FeedService:
    def __init__(self, session: AsyncSession, codec: CursorCodec) -> None:
        self.events = EventRepository(session)
        self.codec = codec

    async def page(
        self, filters: EventFilter, *, after: str | None, limit: int, latest: bool = False
    ) -> FeedPage:
        """Events after `after` (from the oldest retained one without it), oldest first. With
        `latest` (no `after`): no events, and a cursor at the current end of the feed."""
        if latest:
            if after is not None:
                raise ValidationFailed(
                    "start=latest is a starting point instead of `after`; send one of them",
                    loc=["query", "start"],
                )
            return FeedPage([], encode_position(self.codec, await self.events.current_position()))
        start = decode_position(self.codec, after) if after is not None else None
        # The page and the watermark come from one snapshot: a purge that deleted events
        # after `start` has raised the watermark past it, so a page never silently skips.
        rows, watermark, tail, lost = await self.events.page_after(
            start, types=filters.type_set, limit=limit
        )
        if start is not None and (lost or (watermark is not None and start < watermark)):
            raise CursorExpired(
                "Events after this position are past retention and were deleted; "
                "read the feed from its start"
            )
        items = [
            FeedItem(
                encode_position(self.codec, Position(row.xid, row.seq)),
                row.type,
                row.occurred_at,
                row.data,
                row.actor,
            )
            for row in rows
        ]
        if len(items) < limit and tail is not None:
            # A filtered page that is not full went through the whole visible tail: the next
            # poll starts after its last event scanned, matched or not, never rescanning it.
            next_cursor = encode_position(self.codec, tail)
        elif items:
            next_cursor = items[-1].id
        else:
            # Signed again with the current key: a cursor signed under SECRET_KEY_PREVIOUS
            # comes back upgraded, so it outlives that key's removal.
            next_cursor = encode_position(self.codec, start or watermark or BEGINNING)
        return FeedPage(items, next_cursor)


async def purge_expired_events(
    session_factory: async_sessionmaker[AsyncSession], retention_days: float
) -> int:
    """Delete events past retention, in short transactions (a deleting transaction holds
    the feed back while it runs, like any writer); how many went. An event not yet
    dispatched to every active webhook endpoint stays until it is: webhooks lose nothing,
    even after days with no process delivering. One process purges at a time: another
    that finds the purge running leaves it the work and returns."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    total = 0
    while True:
        async with session_factory() as session, session.begin():
            events = EventRepository(session)
            if not await events.try_lock_purge():
                return total
            undispatched = await WebhookRepository(session).oldest_position()
            purged = await events.purge_older_than(
                cutoff, batch=PURGE_BATCH, keep_after=undispatched
            )
            held = purged < PURGE_BATCH and undispatched and await events.any_older_than(cutoff)
        total += purged
        if purged < PURGE_BATCH:
            if held:
                # Nothing dispatches (every process at WEBHOOK_CONCURRENCY=0?): the events
                # wait for the endpoints; pausing or deleting an endpoint lets them go.
                log.warning("events_purge_held_back_by_webhooks", retention_days=retention_days)
            return total


async def measure_feed_lag(
    session_factory: async_sessionmaker[AsyncSession], *, timeout_ms: int
) -> float:
    """How long committed events have been held back (see `EventRepository.lag_seconds`),
    under a short statement timeout: a slow answer is no answer for a gauge."""
    async with session_factory() as session, session.begin():
        await session.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
        return await EventRepository(session).lag_seconds()
