"""Positions in the event log and the conditions that read by them.

A position is the pair `(xid, seq)`. Reads take only events whose transaction id is below
the oldest transaction still running (`visible()`), so resuming after any position never
skips an event (see src/repositories/event/log.py).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import BigInteger, ColumnElement, and_, bindparam, func, select, tuple_

from src.models.event import XID8, Event


class Position(NamedTuple):
    """A place in the feed: after `Position(0, 0)` is the whole log."""

    xid: int
    seq: int


BEGINNING = Position(0, 0)


def visible() -> ColumnElement[bool]:
    """Committed before every transaction still running: nothing can commit before it."""
    return Event.xid < func.pg_snapshot_xmin(func.pg_current_snapshot())


# The event a position names, looked up by `seq` (its identity, which a rebase keeps).
NAMED = Event.__table__.alias("named")


def follows(position: Position) -> ColumnElement[bool]:
    # Typed binds: asyncpg sends the xid as xid8 (a Python int), no text round trip.
    xid = bindparam("after_xid", position.xid, type_=XID8())
    seq = bindparam("after_seq", position.seq, type_=BigInteger())
    # A position names an event; its xid is read back from the log, so an id issued before
    # `stockroom feed rebase` renumbered the log still resumes right after that event (one
    # primary-key lookup). A purged event's position keeps its own xid.
    current = select(NAMED.c.xid).where(NAMED.c.seq == seq).scalar_subquery()
    return tuple_(Event.xid, Event.seq) > tuple_(func.coalesce(current, xid), seq)


def lost_position(position: Position) -> ColumnElement[bool]:
    """A position whose event is gone (purged) and whose own xid is at or past the next
    transaction id: an id issued before `stockroom feed rebase`, in the old server's xids.
    Nothing in the log can follow it, so it never resumes: it is expired, like any position
    before the watermark."""
    xid = bindparam("after_xid", position.xid, type_=XID8())
    seq = bindparam("after_seq", position.seq, type_=BigInteger())
    named = select(NAMED.c.seq).where(NAMED.c.seq == seq).exists()
    return and_(~named, xid >= func.pg_snapshot_xmax(func.pg_current_snapshot()))
