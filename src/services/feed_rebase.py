"""After a logical restore: find the events the feed can never show, and renumber them.

See `src/repositories/event/rebase.py` for why restored events hide and how the rebase keeps
the order and every consumer's place.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from src.core.exceptions import FeedRebaseFailed, StalledFeed
from src.core.transaction_ids import take_transaction_ids_until
from src.repositories.event.rebase import EventRebaseRepository

# Spare ids between the log and the rebasing transaction (taken by whatever else runs).
ROOM = 1_000
# 0, 1 and 2 are PostgreSQL's invalid, bootstrap and frozen transaction ids: never a new xid.
FIRST_NORMAL_XID = 3


class FeedRebase(NamedTuple):
    events: int
    endpoints: int
    transaction_ids: int


async def refuse_a_stalled_feed(session: AsyncSession) -> None:
    """Raise `StalledFeed` if an event sits at or past the next transaction id."""
    if await EventRebaseRepository(session).any_from_the_future():
        raise StalledFeed


def first_new_xid(own: int, runs: int) -> int:
    """The xid of the log's first run when its last run takes `own - 1` (just below the
    rebasing transaction's id); FeedRebaseFailed when that would fall below a normal xid."""
    if own - runs < FIRST_NORMAL_XID:
        raise FeedRebaseFailed(
            f"the log needs {runs} transaction id(s) below this server's {own}: not enough "
            "room (run it again)"
        )
    return own - runs


async def rebase_feed(engine: AsyncEngine, *, room: int = ROOM) -> FeedRebase | None:
    """Renumber the log onto this server's transaction ids in one transaction, order and
    consumers' positions kept; None when no event is from the future. `room`: spare ids
    made below the rebasing transaction beyond the ones the log needs."""
    async with AsyncSession(engine) as session:
        rebase = EventRebaseRepository(session)
        if not await rebase.any_from_the_future():
            return None
        needed = await rebase.runs() + room + FIRST_NORMAL_XID
    # A new server may have used fewer ids than the log needs: take some first.
    await take_transaction_ids_until(engine, needed)
    async with AsyncSession(engine) as session, session.begin():
        rebase = EventRebaseRepository(session)
        own = await rebase.lock()
        if not await rebase.any_from_the_future():
            return None  # another rebase got there first
        runs = await rebase.runs()
        events, endpoints = await rebase.renumber(first_new_xid(own, runs))
    # Every row of the table changed: fresh statistics before the feed reads it again.
    async with AsyncSession(engine) as session, session.begin():
        await EventRebaseRepository(session).analyze()
    return FeedRebase(events=events, endpoints=endpoints, transaction_ids=runs)
