"""The reference the benchmark compares Stockroom with: the same endpoints written as plainly
as possible, plain Starlette on a small asyncpg pool, served by the same uvicorn.

It does what Stockroom does for each request, minus the framework: the same JWT check
(PyJWT, HS256 pinned, `kid`, issuer, audience, every claim required, then the user loaded by
id, or an API client's row for a client's token: `reference_auth.py`), the same SQL
statements, the same signed keyset cursors and the same JSON fields. A
posting makes Stockroom's seven round trips in its order: BEGIN, the user, the key's
advisory lock, the stored response, one statement that locks the product and location,
applies the delta and inserts the ledger row, one that writes the change-feed events, the
idempotency record and the NOTIFY, and COMMIT. Reads run, as Stockroom's do, as single
statements outside an explicit transaction, and there is no middleware, logging, metrics or
rate limiting: that difference is what the benchmark's ratio measures.

Configuration (environment): REFERENCE_DSN (an asyncpg DSN), REFERENCE_HOST (a socket
directory, optional), REFERENCE_POOL_SIZE, SECRET_KEY, JWT_ISSUER, JWT_AUDIENCE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import uuid_utils
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench import reference_feed
from bench.reference_allocation import allocate
from bench.reference_auth import RANKS, authenticate, dumps, json_response, pool
from bench.reference_availability import availability
from bench.reference_posting import (
    AVAILABLE,
    FIND_RECORD,
    POST_DECREASE,
    POST_INCREASE,
    TRY_LOCK,
    flush_statement,
)

PRODUCT_COLUMNS = (
    "sku, name, description, unit, unit_price, reorder_point, is_archived, version, id,"
    " created_at, updated_at"
)
PRODUCTS = f"SELECT {PRODUCT_COLUMNS} FROM products"  # noqa: S608 - constant text
PRODUCTS_PAGE = f"{PRODUCTS} ORDER BY created_at ASC, id ASC LIMIT $1"
PRODUCTS_AFTER = f"{PRODUCTS} WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3"
PRODUCT = f"{PRODUCTS} WHERE id = $1"
LEVELS = (
    "SELECT product_id, location_id, on_hand, reserved, on_hand - reserved AS available,"
    " incoming, updated_at FROM stock_levels"
    " WHERE product_id = $1 ORDER BY product_id ASC, location_id ASC LIMIT $2"
)
MOVEMENT_COLUMNS = (
    "product_id, location_id, kind, quantity, balance_after, reason, reference, note,"
    " transfer_id, count_id, reservation_id, shipment_id, batch_id, created_by, actor,"
    " request_id, created_at, id"
)
MOVEMENTS = f"SELECT {MOVEMENT_COLUMNS} FROM stock_movements WHERE product_id = $1"  # noqa: S608
MOVEMENTS_PAGE = f"{MOVEMENTS} ORDER BY created_at DESC, id DESC LIMIT $2"
MOVEMENTS_AFTER = (
    f"{MOVEMENTS} AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4"
)


def encode_cursor(scope: str, values: list[Any]) -> str:
    body = orjson.dumps({"s": scope, "v": values}, default=str)  # as Stockroom's codec signs
    return base64.urlsafe_b64encode(reference_feed.sign(body) + body).rstrip(b"=").decode()


def decode_cursor(scope: str, cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, body = raw[:16], raw[16:]
        data = orjson.loads(body)
        if not hmac.compare_digest(tag, reference_feed.sign(body)) or data["s"] != scope:
            raise ValueError("not our cursor")
        return datetime.fromisoformat(data["v"][0]), uuid.UUID(data["v"][1])
    except (ValueError, KeyError, TypeError, IndexError):
        raise HTTPException(400, "The cursor is not valid for this list") from None


def page(rows: list[asyncpg.Record], limit: int, scope: str, keys: tuple[str, str]) -> bytes:
    items = [dict(row) for row in rows[:limit]]
    for item in items:  # a JSONB column arrives as its text, as Stockroom's fast reads get it
        if isinstance(item.get("actor"), str):
            item["actor"] = json.loads(item["actor"])
    last = items[-1] if len(rows) > limit else None
    cursor = encode_cursor(scope, [last[keys[0]], last[keys[1]]]) if last else None
    return dumps({"items": items, "next_cursor": cursor})


def query_uuid(request: Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.query_params[name])
    except (KeyError, ValueError):
        raise HTTPException(422, f"{name} must be a UUID") from None


def query_limit(request: Request) -> int:
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise HTTPException(422, "limit must be between 1 and 100")
    return limit


async def me(request: Request) -> Response:
    async with pool(request).acquire() as conn:
        user = await authenticate(request, conn)
    fields = ("id", "email", "full_name", "role", "is_active", "created_at", "updated_at")
    return json_response({name: user[name] for name in fields})


async def products(request: Request) -> Response:
    limit = query_limit(request)
    cursor = request.query_params.get("cursor")
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        if cursor is None:
            rows = await conn.fetch(PRODUCTS_PAGE, limit + 1)
        else:
            after = decode_cursor("products:created_at", cursor)
            rows = await conn.fetch(PRODUCTS_AFTER, *after, limit + 1)
    body = page(rows, limit, "products:created_at", ("created_at", "id"))
    return Response(body, media_type="application/json")


async def product(request: Request) -> Response:
    try:
        product_id = uuid.UUID(request.path_params["product_id"])
    except ValueError:
        raise HTTPException(422, "product_id must be a UUID") from None
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        row = await conn.fetchrow(PRODUCT, product_id)
    if row is None:
        raise HTTPException(404, "No product with this id")
    item = dict(row)
    return json_response(item, headers={"ETag": f'"v{item["version"]}"'})


async def levels(request: Request) -> Response:
    product_id, limit = query_uuid(request, "product_id"), query_limit(request)
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        rows = await conn.fetch(LEVELS, product_id, limit + 1)
    body = page(rows, limit, "stock_levels:key", ("product_id", "location_id"))
    return Response(body, media_type="application/json")


async def movements(request: Request) -> Response:
    product_id, limit = query_uuid(request, "product_id"), query_limit(request)
    cursor = request.query_params.get("cursor")
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        if cursor is None:
            rows = await conn.fetch(MOVEMENTS_PAGE, product_id, limit + 1)
        else:
            after = decode_cursor("stock_movements:newest", cursor)
            rows = await conn.fetch(MOVEMENTS_AFTER, product_id, *after, limit + 1)
    body = page(rows, limit, "stock_movements:newest", ("created_at", "id"))
    return Response(body, media_type="application/json")


def movement_input(data: Any) -> tuple[uuid.UUID, uuid.UUID, str, int, Any, Any, Any]:
    """(product, location, kind, signed delta, reason, reference, note), or 422."""
    try:
        kind, quantity, reason = data["kind"], data["quantity"], data.get("reason")
        if type(quantity) is not int or not 0 < abs(quantity) <= 10**12:
            raise ValueError("bad quantity")
        if kind in ("receipt", "issue") and (quantity < 0 or reason is not None):
            raise ValueError("bad receipt or issue")
        if kind not in ("receipt", "issue", "adjustment") or (kind == "adjustment" and not reason):
            raise ValueError("bad kind")
        delta = -quantity if kind == "issue" else quantity
        product_id, location_id = uuid.UUID(data["product_id"]), uuid.UUID(data["location_id"])
        return product_id, location_id, kind, delta, reason, data.get("reference"), data.get("note")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HTTPException(422, "Invalid movement") from None


async def post_movement(request: Request) -> Response:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "Invalid JSON") from None
    product_id, location_id, kind, delta, reason, reference, note = movement_input(data)
    request_hash = hashlib.sha256(b"movement\n" + dumps(data)).hexdigest()
    key = request.headers.get("idempotency-key")
    request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
    # Stockroom's round trips, in its order: BEGIN, the user, the key's lock, the stored
    # response, the posting, the closing statement, COMMIT.
    async with pool(request).acquire() as conn, conn.transaction():
        user = await authenticate(request, conn)
        if user["role"] is None:  # an API client: its token's scopes
            if "stock:write" not in user["scopes"]:
                raise HTTPException(403, "This action needs the stock:write scope")
        elif RANKS[user["role"]] < RANKS["clerk"]:
            raise HTTPException(403, "This action needs the clerk role or higher")
        # Stockroom's created_by is the person's id, null when a client acted; its actor
        # names either.
        author = user["id"] if user["role"] is not None else None
        who = "user" if user["role"] is not None else "client"
        name = user["full_name"] if user["role"] is not None else user["name"]
        actor = {"type": who, "id": str(user["id"]), "name": name}
        actor_json = dumps(actor).decode()
        if key is not None:
            if not await conn.fetchval(TRY_LOCK, f"idempotency:{user['id']}:{key}"):
                raise HTTPException(409, "Idempotency-Key in flight")
            record = await conn.fetchrow(FIND_RECORD, user["id"], key)
            if record is not None:
                if record["request_hash"] != request_hash:
                    raise HTTPException(422, "Idempotency-Key reused")
                headers = {"Location": record["location"], "Idempotent-Replayed": "true"}
                return Response(record["response_body"], 201, headers, "application/json")
        movement_id = uuid.UUID(bytes=uuid_utils.uuid7().bytes)
        values = (product_id, location_id, kind, delta, reason, reference, note)
        row = await conn.fetchrow(
            POST_INCREASE if delta > 0 else POST_DECREASE,
            product_id,
            location_id,
            delta,
            movement_id,
            kind,
            reason,
            reference,
            note,
            author,
            request_id,
            actor_json,
        )
        for found, archived, noun in (
            ("found_product", "product_archived", "product"),
            ("found_location", "location_archived", "location"),
        ):
            if row[found] is None:
                raise HTTPException(404, f"No {noun} with this id")
            if row[archived]:
                raise HTTPException(409, f"The {noun} is archived")
        if row["created_at"] is None:
            await conn.fetchval(AVAILABLE, product_id, location_id)
            raise HTTPException(409, "Insufficient stock")
        balance, reorder_point = row["balance_after"], row["reorder_point"]
        available = balance - row["reserved"]
        names = ("product_id", "location_id", "kind", "quantity", "balance_after", "reason")
        values = (product_id, location_id, kind, delta, balance, reason)
        movement = {"id": movement_id, **dict(zip(names, values, strict=True))}
        movement.update(reference=reference, note=note, transfer_id=None, count_id=None)
        movement.update(reservation_id=None, shipment_id=None, batch_id=None)
        movement.update(created_by=author, actor=actor, request_id=request_id)
        movement.update(created_at=row["created_at"])
        body = dumps(movement)
        events: list[Any] = ["movement.created", body.decode(), movement_id, actor_json]
        if available - delta >= reorder_point > available:
            level = {"product_id": product_id, "location_id": location_id, "on_hand": balance}
            level.update(available=available, reorder_point=reorder_point)
            events += ["level.below_reorder", dumps(level).decode(), None, actor_json]
        location = f"/api/v1/stock/movements/{movement_id}"
        stored = [user["id"], key, request_hash, 201, body, location] if key is not None else []
        await conn.execute(flush_statement(len(events) // 4, key is not None), *events, *stored)
    return Response(body, 201, {"Location": location}, "application/json")


async def events(request: Request) -> Response:
    limit, after = query_limit(request), request.query_params.get("after")
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        page = await reference_feed.read_page(conn, after, limit)
    return Response(page, media_type="application/json")


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("REFERENCE_POOL_SIZE", "20"))
    app.state.pool = await asyncpg.create_pool(
        os.environ["REFERENCE_DSN"],
        min_size=min(size, 10),
        max_size=size,
        host=os.environ.get("REFERENCE_HOST") or None,  # a socket directory, if any
        server_settings={"application_name": "reference"},
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/api/health", health),
        Route("/api/v1/users/me", me),
        Route("/api/v1/products", products),
        Route("/api/v1/products/{product_id}", product),
        Route("/api/v1/stock/levels", levels),
        Route("/api/v1/stock/availability", availability),
        Route("/api/v1/stock/allocations", allocate, methods=["POST"]),
        Route("/api/v1/stock/movements", movements, methods=["GET"]),
        Route("/api/v1/stock/movements", post_movement, methods=["POST"]),
        Route("/api/v1/events", events),
    ],
    lifespan=lifespan,
)
