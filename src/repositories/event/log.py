"""The change feed's event log: append in the writer's transaction, read by position.

A position is the pair `(xid, seq)`. Reads take only events whose transaction id is below
the oldest transaction still running (`pg_snapshot_xmin(pg_current_snapshot())`), in one
statement: every event that could still commit "before" a position already read is held
back until it has, so resuming after any position never skips an event.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    LargeBinary,
    Select,
    TextClause,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from src.core.event_types import EVENT_TYPES, FEED_CHANNEL, EventType
from src.models.event import XID8, Event, EventWatermark
from src.repositories.audit import AuditRows
from src.repositories.base import Repository
from src.repositories.event.page import PAGES, FeedPageRows, FeedRow
from src.repositories.event.position import (
    BEGINNING,
    Position,
    follows,
    lost_position,
    visible,
)

# The advisory lock one event purge holds per batch: the two-key form, whose key space never
# overlaps the one-key locks of idempotency keys.
_PURGE_LOCK = (0x4556_4E54, 1)  # "EVNT"

# The values of one events row: type, data, movement_id, actor.
EventRow = dict[str, Any]


def _at_or_before(position: Position) -> ColumnElement[bool]:
    xid = bindparam("keep_xid", position.xid, type_=XID8())
    return tuple_(Event.xid, Event.seq) <= tuple_(xid, bindparam("keep_seq", position.seq))


def event_row(
    type: str, data: Mapping[str, Any], actor: Mapping[str, Any] | None = None
) -> EventRow:
    """The row for an event; `data` must be JSON-serialisable (`model_dump(mode="json")`);
    `actor` who made the change (`Actor.as_json()`), None for background work."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}: add it to EventType")
    movement_id = uuid.UUID(str(data["id"])) if type == EventType.MOVEMENT_CREATED else None
    return {
        "type": type,
        "data": dict(data),
        "movement_id": movement_id,
        "actor": None if actor is None else dict(actor),
    }


def _events_after(
    position: Position | None, types: Collection[str] | None, limit: int
) -> Select[Event]:
    statement = select(Event).where(visible())
    if position is not None:
        statement = statement.where(follows(position))
    if types:
        statement = statement.where(Event.type.in_(sorted(types)))
    return statement.order_by(Event.xid, Event.seq).limit(limit)


# The audit entries as `write` sends them: one array per column, whatever their number, and
# the request's id and address once.
_NEW_AUDITS = (
    "new_audits AS (INSERT INTO audit_entries (id, action, actor, entity_type, entity_id,"
    " changes, request_id, client_ip)"
    " SELECT a.id, a.action, CAST(a.actor AS jsonb), a.entity_type, a.entity_id,"
    " CAST(a.changes AS jsonb), CAST(:audit_request_id AS text), CAST(:audit_client_ip AS text)"
    " FROM unnest(CAST(:audit_id AS uuid[]), CAST(:audit_action AS text[]),"
    " CAST(:audit_actor AS text[]), CAST(:audit_entity_type AS text[]),"
    " CAST(:audit_entity_id AS text[]), CAST(:audit_changes AS text[]))"
    " AS a(id, action, actor, entity_type, entity_id, changes))"
)


@functools.cache
def _closing_statement(events: bool, record: bool, notify: bool, audits: bool) -> TextClause:
    """`EventRepository.write`'s statement, one per shape, built once. The events travel as
    three arrays whatever their number (one statement text, one prepared statement), and
    are inserted in their order (`WITH ORDINALITY`), so `seq` follows emission. An actor
    travels as JSON text, NULL for none (which casts to a NULL jsonb); audit entries travel
    the same way, with the request's id and address once."""
    parts = []
    if audits:
        parts.append(_NEW_AUDITS)
    if events:
        parts.append(
            "new_events AS (INSERT INTO events (type, data, movement_id, actor)"
            " SELECT e.type, CAST(e.data AS jsonb), e.movement_id, CAST(e.actor AS jsonb)"
            " FROM unnest(CAST(:types AS text[]), CAST(:datas AS text[]),"
            " CAST(:movements AS uuid[]), CAST(:actors AS text[]))"
            " WITH ORDINALITY AS e(type, data, movement_id, actor, n)"
            " ORDER BY e.n)"
        )
    if record:
        parts.append(
            "new_record AS (INSERT INTO idempotency_records"
            " (user_id, key, request_hash, response_status, response_body, location)"
            " VALUES (:user_id, :key, :request_hash, :response_status, :response_body,"
            " :location))"
        )
    head = f"WITH {', '.join(parts)} " if parts else ""
    wake = f"pg_notify('{FEED_CHANNEL}', '')" if notify else "NULL"
    return text(f"{head}SELECT {wake}").bindparams(
        *([bindparam("response_body", type_=LargeBinary)] if record else [])
    )


def _json_or_none(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class EventRepository(Repository[Event]):
    model = Event

    async def append(
        self, type: str, data: Mapping[str, Any], actor: Mapping[str, Any] | None = None
    ) -> None:
        """Insert an event in this session's transaction; it commits or rolls back with the
        change it describes."""
        await self.session.execute(insert(Event).values(event_row(type, data, actor)))

    async def write(
        self,
        events: list[EventRow],
        *,
        record: Mapping[str, Any] | None,
        notify: bool,
        audits: AuditRows | None = None,
    ) -> None:
        """What a transaction writes last, in one statement (one round trip): its events,
        in order (`seq` follows the list), its audit entries, the idempotency record of its
        response if any, and the NOTIFY that wakes feed readers once it commits."""
        params: dict[str, Any] = dict(record) if record is not None else {}
        if events:
            params["types"] = [event["type"] for event in events]
            params["datas"] = [orjson.dumps(event["data"]).decode() for event in events]
            params["movements"] = [event["movement_id"] for event in events]
            params["actors"] = [_json_or_none(event["actor"]) for event in events]
        if audits is not None:
            params.update(audits.params())
        statement = _closing_statement(bool(events), record is not None, notify, audits is not None)
        await self.session.execute(statement, params)

    async def notify(self) -> None:
        """Wake feed readers once this transaction commits. PostgreSQL folds identical
        notifications of one transaction into one, so calling this per event is harmless."""
        await self.session.execute(select(func.pg_notify(FEED_CHANNEL, "")))

    async def read_after(
        self,
        position: Position | None,
        *,
        types: Collection[str] | None = None,
        limit: int,
    ) -> list[Event]:
        """Visible events after `position` (from the oldest retained one if None), oldest
        first, at most `limit`, optionally only of `types`."""
        statement = _events_after(position, types, limit)
        return list((await self.session.execute(statement)).scalars().all())

    async def page_after(
        self, position: Position | None, *, types: Collection[str] | None, limit: int
    ) -> FeedPageRows:
        """The feed's page: visible events after `position` (from the oldest retained one if
        None), oldest first, at most `limit`, optionally only of `types`; the watermark,
        whether `position` is lost (see `lost_position`), and with `types` the newest
        visible event after `position`: all read in one statement."""
        statement = PAGES[(position is not None, bool(types))]
        params: dict[str, Any] = {"limit": limit}
        if position is not None:
            params.update(after_xid=position.xid, after_seq=position.seq)
        if types:
            params["types"] = sorted(types)
        rows = (await self.session.execute(statement, params)).all()
        first = rows[0]  # the one-row side of the joins: there is always a row
        watermark = None if first.w_xid is None else Position(int(first.w_xid), int(first.w_seq))
        tail = None
        if types and first.t_seq is not None:
            tail = Position(int(first.t_xid), int(first.t_seq))
        events = [
            FeedRow(int(r.xid), r.seq, r.type, r.occurred_at, r.data, r.actor)
            for r in rows
            if r.seq is not None
        ]
        return FeedPageRows(events, watermark, tail, bool(first.lost))

    async def position_of_movement(self, movement_id: uuid.UUID) -> Position | None:
        """The position of a movement's `movement.created` event, if it has one."""
        row = (
            await self.session.execute(
                select(Event.xid, Event.seq).where(Event.movement_id == movement_id)
            )
        ).first()
        return Position(int(row.xid), int(row.seq)) if row else None

    async def any_visible_after(self, position: Position) -> bool:
        """Whether an event after `position` is visible (a cheap check before real work)."""
        found = await self.session.scalar(
            select(select(Event.seq).where(visible(), follows(position)).exists())
        )
        return bool(found)

    async def newest_visible_position(self) -> Position | None:
        row = (
            await self.session.execute(
                select(Event.xid, Event.seq)
                .where(visible())
                .order_by(Event.xid.desc(), Event.seq.desc())
                .limit(1)
            )
        ).first()
        return Position(int(row.xid), int(row.seq)) if row else None

    async def current_position(self) -> Position:
        """Where a reader that wants only what comes next starts: after the newest visible
        event (one still held back by an older transaction then follows once visible), else
        after everything purged, else the beginning."""
        return await self.newest_visible_position() or await self.watermark() or BEGINNING

    async def expired(self, position: Position) -> bool:
        """Whether resuming after `position` could skip purged events: it is before the
        watermark, or lost (see `lost_position`)."""
        xid = bindparam("after_xid", position.xid, type_=XID8())
        seq = bindparam("after_seq", position.seq, type_=BigInteger())
        purged_past = (
            select(EventWatermark.xid)
            .where(tuple_(xid, seq) < tuple_(EventWatermark.xid, EventWatermark.seq))
            .exists()
        )
        return bool(await self.session.scalar(select(or_(purged_past, lost_position(position)))))

    async def watermark(self) -> Position | None:
        """The highest position the retention purge has deleted, if any."""
        row = (await self.session.execute(select(EventWatermark.xid, EventWatermark.seq))).first()
        return Position(int(row.xid), int(row.seq)) if row else None

    async def any_older_than(self, cutoff: datetime) -> bool:
        found = await self.session.scalar(
            select(select(Event.seq).where(Event.occurred_at < cutoff, visible()).exists())
        )
        return bool(found)

    async def try_lock_purge(self) -> bool:
        """Take the event purge's transaction-wide advisory lock, without waiting: False
        while another process purges (it drains what is due; the watermark row it moves
        would otherwise make this one wait)."""
        locked = await self.session.scalar(select(func.pg_try_advisory_xact_lock(*_PURGE_LOCK)))
        return bool(locked)

    async def purge_older_than(
        self, cutoff: datetime, *, batch: int = 10_000, keep_after: Position | None = None
    ) -> int:
        """Delete up to `batch` visible events that occurred before `cutoff`, none after
        `keep_after`, and raise the watermark to the highest position deleted. Returns how
        many were deleted."""
        conditions = [Event.occurred_at < cutoff, visible()]
        if keep_after is not None:
            conditions.append(_at_or_before(keep_after))
        doomed = (
            select(Event.seq)
            .where(*conditions)
            .order_by(Event.occurred_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        deleted = (
            await self.session.execute(
                delete(Event).where(Event.seq.in_(doomed)).returning(Event.xid, Event.seq)
            )
        ).all()
        if not deleted:
            return 0
        highest = max(Position(int(r.xid), int(r.seq)) for r in deleted)
        upsert = pg_insert(EventWatermark).values(
            singleton=True, xid=bindparam("w_xid", highest.xid, type_=XID8()), seq=highest.seq
        )
        current = tuple_(EventWatermark.xid, EventWatermark.seq)
        await self.session.execute(
            upsert.on_conflict_do_update(
                index_elements=[EventWatermark.singleton],
                set_={
                    "xid": upsert.excluded.xid,
                    "seq": upsert.excluded.seq,
                    "purged_at": func.now(),
                },
                where=current < tuple_(upsert.excluded.xid, upsert.excluded.seq),
            )
        )
        return len(deleted)

    async def lag_seconds(self) -> float:
        """How long the oldest event not yet visible has been waiting (from its
        transaction's start), 0 when none is held back: how far behind a still-running
        writer holds the feed. Reads only the held-back end of the (xid, seq) index."""
        held = (
            select(func.min(Event.occurred_at))
            .where(Event.xid >= func.pg_snapshot_xmin(func.pg_current_snapshot()))
            .scalar_subquery()
        )
        lag = func.extract("epoch", func.clock_timestamp() - held)
        value = await self.session.scalar(select(func.greatest(func.coalesce(lag, 0), 0)))
        return float(value or 0)
