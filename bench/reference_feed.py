"""The reference's change feed (GET /api/v1/events): Stockroom's statements and event ids,
written plainly. An event id is the position `(xid, seq)` signed with the same cursor key
and scope, one signature per event, as Stockroom signs them (compact JSON by orjson, a
keyed HMAC copied per signature); the page embeds each event's stored JSON as Stockroom does
(`orjson.Fragment`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import asyncpg
import orjson
from starlette.exceptions import HTTPException

SECRET_KEY = os.environ.get("SECRET_KEY", "")
CURSOR_KEY = hashlib.sha256(b"stockroom-cursor:" + SECRET_KEY.encode()).digest()
MAC = hmac.new(CURSOR_KEY, digestmod=hashlib.sha256)
SCOPE = "events:position"
FEED_CHANNEL = "events"
# The page and the watermark in one statement (one snapshot), actor and data as stored (text).
PAGE = (
    "SELECT event_watermark.xid AS w_xid, event_watermark.seq AS w_seq, page.xid, page.seq,"
    " page.type, page.occurred_at, page.actor, page.data FROM (SELECT 1 AS one) AS one"
    " LEFT OUTER JOIN event_watermark ON true LEFT OUTER JOIN LATERAL"
    " (SELECT events.xid AS xid, events.seq AS seq, events.type AS type,"
    " events.occurred_at AS occurred_at, CAST(events.actor AS TEXT) AS actor,"
    " CAST(events.data AS TEXT) AS data FROM events"
    " WHERE events.xid < pg_snapshot_xmin(pg_current_snapshot()){after}"
    " ORDER BY events.xid, events.seq LIMIT ${limit}::INTEGER) AS page ON true"
    " ORDER BY page.xid, page.seq"
)
EVENTS_PAGE = PAGE.format(after="", limit=1)
EVENTS_AFTER = PAGE.format(after=" AND (events.xid, events.seq) > ($1, $2::INTEGER)", limit=3)
APPEND = "INSERT INTO events (type, data, movement_id) VALUES ($1, $2, $3)"


def sign(body: bytes) -> bytes:
    mac = MAC.copy()
    mac.update(body)
    return mac.digest()[:16]


def encode_position(xid: int, seq: int) -> str:
    body = orjson.dumps({"s": SCOPE, "v": [xid, seq]})
    return base64.urlsafe_b64encode(sign(body) + body).rstrip(b"=").decode()


def decode_position(token: str) -> tuple[int, int]:
    try:
        if len(token) > 2048:
            raise ValueError("too long to be ours")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        tag, body = raw[:16], raw[16:]
        data = orjson.loads(body)
        if not hmac.compare_digest(tag, sign(body)) or data["s"] != SCOPE:
            raise ValueError("not our position")
        xid, seq = data["v"]
        if not (type(xid) is int and type(seq) is int and xid >= 0 and seq >= 0):
            raise ValueError("not a position")
        return xid, seq
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise HTTPException(400, "The event id is not one this server issued") from None


async def read_page(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record], after: str | None, limit: int
) -> bytes:
    """Stockroom's page: read it with the watermark (410 when `after` is before it)."""
    start = decode_position(after) if after is not None else None
    if start is None:
        rows = await conn.fetch(EVENTS_PAGE, limit)
    else:
        rows = await conn.fetch(EVENTS_AFTER, *start, limit)
    first = rows[0]
    mark = (int(first["w_xid"]), int(first["w_seq"])) if first["w_xid"] is not None else None
    if start is not None and mark is not None and start < mark:
        raise HTTPException(410, "Events after this position were deleted")
    items = [
        {
            "id": encode_position(int(row["xid"]), row["seq"]),
            "type": row["type"],
            "occurred_at": row["occurred_at"],
            "actor": None if row["actor"] is None else orjson.Fragment(row["actor"]),
            "data": orjson.Fragment(row["data"]),
        }
        for row in rows
        if row["seq"] is not None
    ]
    if items:
        cursor = items[-1]["id"]
    else:
        cursor = after if after is not None else encode_position(*(mark or (0, 0)))
    return orjson.dumps({"items": items, "next_cursor": cursor}, option=orjson.OPT_UTC_Z)
