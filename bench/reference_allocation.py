"""The reference's `POST /api/v1/stock/allocations`: Stockroom's fifteen round trips in its
order, written plainly (see `src/services/allocation/create.py`): BEGIN, the caller, the
key's lock, the stored response, the products (FOR NO KEY UPDATE), the locations with a
level of them (FOR SHARE), their levels (FOR UPDATE), the levels' overdue holds expired, the
allocation, its lines, its picks (reservations), the levels' `reserved`, the closing
statement (events, stored response, NOTIFY), COMMIT. The plan is Stockroom's rule for
unpinned lines split across locations (most available first; ties by code, then id).

It takes only what the benchmark sends: no pins, no preferred locations, `split` true, not
`single_location`, an Idempotency-Key (422 otherwise); and holds that outlast the run (an
overdue hold found on a locked level is a 500 here: Stockroom would expire it and settle
its allocation), on levels far above their reorder points (no `level.below_reorder`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import uuid_utils
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bench import reference_allocation_sql as sql
from bench.reference_auth import RANKS, authenticate, dumps, pool
from bench.reference_posting import FIND_RECORD, TRY_LOCK

MAX_QUANTITY = 10**12


def _new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def _order(data: Any) -> tuple[list[tuple[uuid.UUID, int]], Any, int]:
    """(lines as (product, quantity), reference, expires_in), or 422."""
    try:
        if data.get("locations") or data.get("single_location") or data.get("split") is False:
            raise ValueError("not what the bench sends")
        lines = [(uuid.UUID(line["product_id"]), line["quantity"]) for line in data["lines"]]
        if any("location_id" in line for line in data["lines"]) or not 0 < len(lines) <= 100:
            raise ValueError("bad lines")
        if any(type(q) is not int or not 0 < q <= MAX_QUANTITY for _, q in lines):
            raise ValueError("bad quantity")
        expires_in = data.get("expires_in", 900)
        if type(expires_in) is not int or not 60 <= expires_in <= 2_592_000:
            raise ValueError("bad expires_in")
        return lines, data.get("reference"), expires_in
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HTTPException(422, "Invalid allocation") from None


def _plan(
    lines: list[tuple[uuid.UUID, int]], codes: dict[uuid.UUID, str], available: dict[Any, int]
) -> list[list[tuple[uuid.UUID, int]]]:
    """Each line's picks, greedily from the most available location; 409 when one is short."""
    picks = []
    for product_id, quantity in lines:
        here = [loc for (p, loc) in available if p == product_id]
        here.sort(key=lambda loc: (-available[(product_id, loc)], codes[loc], str(loc)))
        taken, need = [], quantity
        for loc in here:
            units = min(need, available[(product_id, loc)])
            if units > 0:
                taken.append((loc, units))
                available[(product_id, loc)] -= units
                need -= units
        if need:
            raise HTTPException(409, "Not enough stock available for every line of the order")
        picks.append(taken)
    return picks


async def allocate(request: Request) -> Response:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "Invalid JSON") from None
    lines, reference, expires_in = _order(data)
    request_hash = hashlib.sha256(b"allocation\n" + dumps(data)).hexdigest()
    key = request.headers.get("idempotency-key")
    if key is None:  # the bench sends one with every order; this closing statement stores it
        raise HTTPException(422, "The reference needs an Idempotency-Key")
    async with pool(request).acquire() as conn, conn.transaction():
        user = await authenticate(request, conn)
        if user["role"] is None or RANKS[user["role"]] < RANKS["clerk"]:
            raise HTTPException(403, "This action needs the clerk role or higher")
        actor = {"type": "user", "id": str(user["id"]), "name": user["full_name"]}
        actor_json = dumps(actor).decode()
        if not await conn.fetchval(TRY_LOCK, f"idempotency:{user['id']}:{key}"):
            raise HTTPException(409, "Idempotency-Key in flight")
        record = await conn.fetchrow(FIND_RECORD, user["id"], key)
        if record is not None:
            if record["request_hash"] != request_hash:
                raise HTTPException(422, "Idempotency-Key reused")
            headers = {"Location": record["location"], "Idempotent-Replayed": "true"}
            return Response(record["response_body"], 201, headers, "application/json")
        products = sorted({product_id for product_id, _ in lines})
        found = {row["id"]: row for row in await conn.fetch(sql.LOCK_PRODUCTS, products)}
        for product_id in products:
            if product_id not in found:
                raise HTTPException(404, "No product with this id")
            if found[product_id]["is_archived"]:
                raise HTTPException(409, "The product is archived")
        sources = await conn.fetch(sql.LOCK_SOURCES, [], products)
        codes = {row["id"]: row["code"] for row in sources}
        levels = await conn.fetch(sql.LOCK_LEVELS, products, sorted(codes)) if codes else []
        pairs = [(row["product_id"], row["location_id"]) for row in levels]
        if pairs:
            ids = [[p for p, _ in pairs], [loc for _, loc in pairs]]
            if await conn.fetch(sql.EXPIRE_OVERDUE, "expired", *ids, "active"):
                raise HTTPException(500, "An overdue hold: the reference does not settle")
        available = {
            (r["product_id"], r["location_id"]): r["on_hand"] - r["reserved"] for r in levels
        }
        picks = _plan(lines, codes, available)

        allocation_id = _new_id()
        lifetime = timedelta(seconds=expires_in)
        made = await conn.fetchrow(
            sql.INSERT_ALLOCATION,
            reference,
            "active",
            lifetime,
            user["id"],
            actor_json,
            allocation_id,
        )
        expires_at = made["expires_at"]
        line_ids = [_new_id() for _ in lines]
        count = len(lines)
        await conn.execute(
            sql.INSERT_LINES,
            line_ids,
            [allocation_id] * count,
            list(range(count)),
            [product_id for product_id, _ in lines],
            [quantity for _, quantity in lines],
            [0] * count,
        )
        rows = [
            (_new_id(), lines[n][0], loc, units, n) for n in range(count) for loc, units in picks[n]
        ]
        many = len(rows)
        created = await conn.fetch(
            sql.INSERT_PICKS,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[3] for r in rows],
            ["active"] * many,
            [expires_at] * many,
            [reference] * many,
            [user["id"]] * many,
            [actor_json] * many,
            [allocation_id] * many,
            [line_ids[r[4]] for r in rows],
        )
        stamps = {row["id"]: row["created_at"] for row in created}
        held: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
        for r in rows:
            held[(r[1], r[2])] = held.get((r[1], r[2]), 0) + r[3]
        await conn.execute(
            sql.CHANGE_LEVELS,
            [p for p, _ in held],
            [loc for _, loc in held],
            [0] * len(held),
            [-units for units in held.values()],
            [0] * len(held),
        )
        events: list[tuple[str, str]] = []
        for r in rows:
            reservation = {"id": r[0], "product_id": r[1], "location_id": r[2]}
            reservation.update(quantity=r[3], remaining=r[3], status="active")
            reservation.update(expires_at=expires_at, reference=reference)
            reservation.update(created_by=user["id"], actor=actor)
            reservation.update(created_at=stamps[r[0]], updated_at=stamps[r[0]])
            events.append(("reservation.created", dumps(reservation).decode()))
        answer = {"id": allocation_id, "reference": reference, "status": "active"}
        answer["expires_at"] = expires_at
        answer["lines"] = [
            {
                "id": line_ids[n],
                "product_id": lines[n][0],
                "quantity": lines[n][1],
                "fulfilled": 0,
                "picks": [
                    {"location_id": r[2], "reservation_id": r[0], "quantity": r[3]}
                    for r in rows
                    if r[4] == n
                ],
            }
            for n in range(count)
        ]
        answer.update(created_by=user["id"], actor=actor)
        answer.update(created_at=made["created_at"], updated_at=made["updated_at"])
        body = dumps(answer)
        events.append(("allocation.created", body.decode()))
        location = f"/api/v1/stock/allocations/{allocation_id}"
        stored = [user["id"], key, request_hash, 201, body, location]
        await conn.execute(
            sql.CLOSE,
            [kind for kind, _ in events],
            [data for _, data in events],
            [None] * len(events),
            [actor_json] * len(events),
            *stored,
        )
    return Response(body, 201, {"Location": location}, "application/json")
