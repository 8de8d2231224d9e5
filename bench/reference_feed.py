"""The reference's change feed (GET /api/v1/events): Stockroom's statements and event ids,
written plainly. An event id is the position `(xid, seq)` signed with the same cursor key
and scope, one signature per event, as Stockroom signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

import asyncpg
from starlette.exceptions import HTTPException

SECRET_KEY = os.environ.get("SECRET_KEY", "")
CURSOR_KEY = hashlib.sha256(b"stockroom-cursor:" + SECRET_KEY.encode()).digest()
SCOPE = "events:position"
FEED_CHANNEL = "events"
EVENTS = (
    "SELECT events.seq, events.xid, events.type, events.occurred_at, events.data,"
    " events.movement_id FROM events"
    " WHERE events.xid < pg_snapshot_xmin(pg_current_snapshot())"
)
# Stockroom's page: the events and the watermark in one statement (one snapshot).
_WITH_WATERMARK = (
    "SELECT page.seq, page.xid, page.type, page.occurred_at, page.data,"
    " event_watermark.xid AS w_xid, event_watermark.seq AS w_seq"
    " FROM (SELECT 1 AS one) AS one LEFT JOIN event_watermark ON true"
    " LEFT JOIN ({page}) AS page ON true ORDER BY page.xid, page.seq"
)
EVENTS_PAGE = _WITH_WATERMARK.format(
    page=f"{EVENTS} ORDER BY events.xid, events.seq LIMIT $1::INTEGER"
)
EVENTS_AFTER = _WITH_WATERMARK.format(
    page=f"{EVENTS} AND (events.xid, events.seq) > ($1, $2::INTEGER)"
    " ORDER BY events.xid, events.seq LIMIT $3::INTEGER"
)
APPEND = "INSERT INTO events (type, data, movement_id) VALUES ($1, $2, $3)"


def encode_position(xid: int, seq: int) -> str:
    body = json.dumps({"s": SCOPE, "v": [xid, seq]}, separators=(",", ":")).encode()
    tag = hmac.new(CURSOR_KEY, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(tag + body).rstrip(b"=").decode()


def decode_position(token: str) -> tuple[int, int]:
    try:
        if len(token) > 2048:
            raise ValueError("too long to be ours")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        tag, body = raw[:16], raw[16:]
        expected = hmac.new(CURSOR_KEY, body, hashlib.sha256).digest()[:16]
        data = json.loads(body)
        if not hmac.compare_digest(tag, expected) or data["s"] != SCOPE:
            raise ValueError("not our position")
        xid, seq = data["v"]
        if not (type(xid) is int and type(seq) is int and xid >= 0 and seq >= 0):
            raise ValueError("not a position")
        return xid, seq
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise HTTPException(400, "The event id is not one this server issued") from None


async def read_page(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record], after: str | None, limit: int
) -> dict[str, Any]:
    """Stockroom's page: the events and the watermark (410 when `after` is before it)."""
    start = decode_position(after) if after is not None else None
    if start is None:
        rows = await conn.fetch(EVENTS_PAGE, limit)
    else:
        rows = await conn.fetch(EVENTS_AFTER, *start, limit)
    first = rows[0]
    mark = None if first["w_xid"] is None else (int(first["w_xid"]), int(first["w_seq"]))
    rows = [row for row in rows if row["seq"] is not None]
    if start is not None and mark is not None and start < mark:
        raise HTTPException(410, "Events after this position were deleted")
    items = [
        {
            "id": encode_position(int(row["xid"]), row["seq"]),
            "type": row["type"],
            "occurred_at": row["occurred_at"],
            "data": json.loads(row["data"]),
        }
        for row in rows
    ]
    if items:
        cursor = items[-1]["id"]
    else:
        cursor = after if after is not None else encode_position(*(mark or (0, 0)))
    return {"items": items, "next_cursor": cursor}
