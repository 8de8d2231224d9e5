"""Renumbering the event log's transaction ids after a logical restore.

A logical dump keeps each event's `xid` from the server that wrote it. Restored into a new
server, whose transaction ids are lower, those events sit "in the future": never below
`pg_snapshot_xmin`, never visible. The rebase gives the log new xids below the rebasing
transaction's own, keeping the order `(xid, seq)`: `seq` is kept (clients' event ids are
found again by it, see `_after` in `src/repositories/event/log.py`), and a new xid starts
only where the old order's `seq` goes down, so the log needs as few xids as its
interleaved transactions require. Stored positions (webhook endpoints', the retention
watermark) move to the new position of the last event at or before them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Any event at or past the next transaction id to be assigned can never become visible.
_FROM_THE_FUTURE = text(
    "SELECT EXISTS (SELECT 1 FROM events WHERE xid >= pg_snapshot_xmax(pg_current_snapshot()))"
)

# Old order: a new xid begins where `seq` goes down (another transaction interleaved).
_RUN_COUNT = text(
    "SELECT count(*) FILTER (WHERE seq < prev) + 1 FROM"
    " (SELECT seq, lag(seq) OVER (ORDER BY xid, seq) AS prev FROM events) AS steps"
)
_MAP = text(
    "CREATE TEMPORARY TABLE event_rebase ON COMMIT DROP AS"
    " SELECT seq, old_xid,"
    " CAST(CAST(CAST(:base AS bigint) + sum(step) OVER (ORDER BY old_xid, seq) AS text) AS xid8)"
    " AS new_xid FROM ("
    " SELECT seq, xid AS old_xid,"
    " CASE WHEN seq < lag(seq) OVER (ORDER BY xid, seq) THEN 1 ELSE 0 END AS step"
    " FROM events) AS steps"
)
# A stored position moves to the new one of the last event at or before it (before them
# all: just before the first new xid).
_MOVE_ENDPOINTS = text(
    "UPDATE webhook_endpoints AS w SET (position_xid, position_seq) = ("
    " SELECT coalesce(m.new_xid, CAST(CAST(CAST(:before AS bigint) AS text) AS xid8)),"
    " coalesce(m.seq, 0)"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
    " SELECT new_xid, seq FROM event_rebase"
    " WHERE (old_xid, seq) <= (w.position_xid, w.position_seq)"
    " ORDER BY old_xid DESC, seq DESC LIMIT 1) AS m ON true)"
)
_MOVE_WATERMARK = text(
    "UPDATE event_watermark AS w SET (xid, seq) = ("
    " SELECT coalesce(m.new_xid, CAST(CAST(CAST(:before AS bigint) AS text) AS xid8)),"
    " coalesce(m.seq, 0)"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
    " SELECT new_xid, seq FROM event_rebase WHERE (old_xid, seq) <= (w.xid, w.seq)"
    " ORDER BY old_xid DESC, seq DESC LIMIT 1) AS m ON true)"
)
_RENUMBER = text(
    "UPDATE events AS e SET xid = m.new_xid FROM event_rebase AS m WHERE m.seq = e.seq"
)


class EventRebaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def any_from_the_future(self) -> bool:
        # A database not migrated yet has no log to check.
        if await self.session.scalar(text("SELECT to_regclass('events')")) is None:
            return False
        return bool(await self.session.scalar(_FROM_THE_FUTURE))

    async def runs(self) -> int:
        """How many new transaction ids the log needs."""
        found = await self.session.scalar(_RUN_COUNT)
        return int(found or 0)

    async def lock(self) -> int:
        """Lock out writers of the log and of stored positions; this transaction's id."""
        await self.session.execute(
            text("LOCK TABLE events, event_watermark, webhook_endpoints IN EXCLUSIVE MODE")
        )
        found = await self.session.scalar(
            text("SELECT CAST(CAST(pg_current_xact_id() AS text) AS bigint)")
        )
        return int(found)

    async def renumber(self, base: int) -> tuple[int, int]:
        """Give run k of the log the xid `base + k` and map the stored positions:
        (events renumbered, webhook endpoints mapped)."""
        params: dict[str, Any] = {"base": base, "before": base - 1}
        await self.session.execute(_MAP, params)
        await self.session.execute(text("ALTER TABLE event_rebase ADD PRIMARY KEY (seq)"))
        await self.session.execute(text("CREATE INDEX ON event_rebase (old_xid, seq)"))
        endpoints = await self.session.execute(_MOVE_ENDPOINTS, params)
        await self.session.execute(_MOVE_WATERMARK, params)
        events = await self.session.execute(_RENUMBER)
        return _rowcount(events), _rowcount(endpoints)

    async def analyze(self) -> None:
        """Fresh planner statistics for the renumbered log."""
        await self.session.execute(text("ANALYZE events"))


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
