"""The feed's page statement (`GET /api/v1/events`): visible events after a position,
optionally of some types, beside the watermark and, with types, the newest event scanned, all
in one prebuilt statement per shape; and the type filter streams share (`only_types`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    String,
    Subquery,
    Text,
    bindparam,
    cast,
    false,
    literal_column,
    select,
    true,
)

from src.models.event import Event, EventWatermark
from src.repositories.event.position import Position, follows, lost_position, visible


class FeedRow(NamedTuple):
    """An event as the feed sends it: `data` is the JSON text as stored, never decoded."""

    xid: int
    seq: int
    type: str
    occurred_at: datetime
    data: str
    actor: str | None  # JSON text as stored, like `data`


class FeedPageRows(NamedTuple):
    events: list[FeedRow]
    watermark: Position | None
    # With types, the newest visible event after the position (matched or not), if any.
    tail: Position | None
    # The position names an event a rebase renumbered and a purge then deleted (`lost_position`).
    lost: bool


def only_types(events: Select[Any]) -> Subquery:
    """`events` (after a position) of the types bound as `types`, walking the position index.

    The events after the position go through a fence (`OFFSET 0`: never flattened into the
    outer query) in index order, and the types are filtered outside it. Without it, the
    planner, knowing a type to be rare, scans the whole table and sorts instead: the
    position would bound nothing, and a filtered read at the end of the log would cost as
    much as one at its start."""
    fenced = events.order_by(Event.xid, Event.seq).offset(literal_column("0")).subquery()
    wanted = fenced.c.type.in_(bindparam("types", type_=String, expanding=True))
    return select(fenced).where(wanted).subquery("typed")


def _page_statement(*, after: bool, types: bool) -> Select[Any]:
    """Visible events (after a position, of some types), oldest first, beside the watermark:
    one statement, so both come from one snapshot (a purge is seen by both or by neither).
    A row with no event carries the watermark alone (an empty page)."""
    events = select(
        Event.xid, Event.seq, Event.type, Event.occurred_at, Event.data, Event.actor
    ).where(visible())
    if after:
        events = events.where(follows(Position(0, 0)))
    source = only_types(events) if types else events.subquery("visible")
    page = (
        select(
            source.c.xid,
            source.c.seq,
            source.c.type,
            source.c.occurred_at,
            cast(source.c.data, Text).label("data"),
            cast(source.c.actor, Text).label("actor"),
        )
        .order_by(source.c.xid, source.c.seq)
        .limit(bindparam("limit", type_=Integer))
        .subquery()
        .lateral("page")
    )
    one = select(literal_column("1").label("one")).subquery("one")
    lost = lost_position(Position(0, 0)) if after else false()
    statement = (
        select(
            EventWatermark.xid.label("w_xid"),
            EventWatermark.seq.label("w_seq"),
            lost.label("lost"),
            page.c.xid,
            page.c.seq,
            page.c.type,
            page.c.occurred_at,
            page.c.data,
            page.c.actor,
        )
        .select_from(one)
        .outerjoin(EventWatermark, true())
    )
    if types:
        # The newest visible event after the position, whatever its type: how far a page
        # that is not full has scanned, so the next poll starts there, not at its last match.
        tail = select(Event.xid.label("t_xid"), Event.seq.label("t_seq")).where(visible())
        if after:
            tail = tail.where(follows(Position(0, 0)))
        newest = (
            tail.order_by(Event.xid.desc(), Event.seq.desc()).limit(1).subquery().lateral("tail")
        )
        statement = statement.add_columns(newest.c.t_xid, newest.c.t_seq).outerjoin(newest, true())
    return statement.outerjoin(page, true()).order_by(page.c.xid, page.c.seq)


# Built once: a prebuilt statement's cache key is memoised; building one per call is not.
PAGES = {
    (after, types): _page_statement(after=after, types=types)
    for after in (False, True)
    for types in (False, True)
}
