"""After a logical restore: find the events the feed can never show, and renumber them.

See `src/repositories/event_rebase.py` for why restored events hide and how the rebase keeps
the order and every consumer's place.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from src.repositories.event_rebase import EventRebaseRepository

STALLED_FEED = (
    "the event log holds events with transaction ids above this server's (restored from a "
    "logical dump?): the feed and webhooks would never show them; run `stockroom feed "
    "rebase` before serving"
)

# Spare ids between the log and the rebasing transaction (taken by whatever else runs).
_ROOM = 1_000


class StalledFeed(Exception):
    """The event log holds events from the future: the app refuses to serve."""

    def __init__(self) -> None:
        super().__init__(STALLED_FEED)


class FeedRebase(NamedTuple):
    events: int
    endpoints: int
    transaction_ids: int


async def refuse_a_stalled_feed(session: AsyncSession) -> None:
    """Raise `StalledFeed` if an event sits at or past the next transaction id."""
    if await EventRebaseRepository(session).any_from_the_future():
        raise StalledFeed


async def rebase_feed(engine: AsyncEngine) -> FeedRebase | None:
    """Renumber the log onto this server's transaction ids in one transaction, order and
    consumers' positions kept; None when no event is from the future."""
    async with AsyncSession(engine) as session:
        rebase = EventRebaseRepository(session)
        if not await rebase.any_from_the_future():
            return None
        needed = await rebase.runs() + _ROOM
        short = needed - await rebase.next_transaction_id()
    if short > 0:
        # A new server may have used fewer ids than the log needs: take some first.
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await EventRebaseRepository(AsyncSession(autocommit)).consume_transaction_ids(short)
    async with AsyncSession(engine) as session, session.begin():
        rebase = EventRebaseRepository(session)
        own = await rebase.lock()
        if not await rebase.any_from_the_future():
            return None  # another rebase got there first
        runs = await rebase.runs()
        events, endpoints = await rebase.renumber(own - runs)
    return FeedRebase(events=events, endpoints=endpoints, transaction_ids=runs)
