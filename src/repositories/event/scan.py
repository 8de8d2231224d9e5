"""The event streams' reads of the log: visible events after a position (optionally only of
some types), oldest first, and how far the read got, in one statement (one snapshot).

How far it got matters for a filtered read: when the types asked for are rare, the next read
must start after the last event scanned, not the last one matched, or every read rescans the
whole tail of other types.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, bindparam, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.event import Event
from src.repositories.event.page import only_types
from src.repositories.event.position import BEGINNING, Position, follows, visible


class LogEvent(NamedTuple):
    """An event as the streams read it (`data` decoded)."""

    xid: int
    seq: int
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    actor: dict[str, Any] | None

    @property
    def position(self) -> Position:
        return Position(self.xid, self.seq)


class Scan(NamedTuple):
    events: list[LogEvent]  # oldest first, at most the limit
    # The last position read: a reader resumes after it. None when nothing after the start
    # was visible.
    through: Position | None


@functools.cache
def _scan_statement(types: bool) -> Select[Any]:
    """Visible events after a position, oldest first, at most `limit`; with `types`, only
    those, beside the newest visible event after the position (the end of the tail the read
    went through when the page is not full). Built once per shape."""
    events = select(
        Event.xid, Event.seq, Event.type, Event.occurred_at, Event.data, Event.actor
    ).where(visible(), follows(BEGINNING))
    if not types:
        return events.order_by(Event.xid, Event.seq).limit(bindparam("limit", type_=Integer))
    typed = only_types(events)
    page = (
        select(typed)
        .order_by(typed.c.xid, typed.c.seq)
        .limit(bindparam("limit", type_=Integer))
        .subquery()
        .lateral("page")
    )
    tail = (
        select(Event.xid.label("t_xid"), Event.seq.label("t_seq"))
        .where(visible(), follows(BEGINNING))
        .order_by(Event.xid.desc(), Event.seq.desc())
        .limit(1)
        .subquery()
        .lateral("tail")
    )
    one = select(literal_column("1").label("one")).subquery("one")
    return (
        select(
            tail.c.t_xid,
            tail.c.t_seq,
            page.c.xid,
            page.c.seq,
            page.c.type,
            page.c.occurred_at,
            page.c.data,
            page.c.actor,
        )
        .select_from(one)
        .outerjoin(tail, true())
        .outerjoin(page, true())
        .order_by(page.c.xid, page.c.seq)
    )


async def scan_after(
    session: AsyncSession, position: Position, *, types: Collection[str], limit: int
) -> Scan:
    """Visible events after `position` (of `types`, or all when empty), at most `limit`, and
    the position the read went through: the last event returned when the page is full, else
    the newest visible event after `position` (matched or not)."""
    params: dict[str, Any] = {
        "after_xid": position.xid,
        "after_seq": position.seq,
        "limit": limit,
    }
    if types:
        params["types"] = sorted(types)
    rows = (await session.execute(_scan_statement(bool(types)), params)).all()
    events = [
        LogEvent(int(r.xid), int(r.seq), r.type, r.occurred_at, r.data, r.actor)
        for r in rows
        if r.seq is not None
    ]
    if len(events) >= limit or not types:
        return Scan(events, events[-1].position if events else None)
    first = rows[0]  # the one-row side of the joins: there is always a row
    tail = None if first.t_seq is None else Position(int(first.t_xid), int(first.t_seq))
    return Scan(events, tail)


_XID_OF = select(Event.xid).where(Event.seq == bindparam("seq", type_=Integer))


async def resolved(session: AsyncSession, position: Position) -> Position:
    """`position` with the xid its event has now (`stockroom feed rebase` renumbers xids and
    keeps `seq`), so it compares right with positions read since; unchanged when its event
    is gone (purged)."""
    xid = await session.scalar(_XID_OF, {"seq": position.seq})
    return position if xid is None else Position(int(xid), position.seq)
