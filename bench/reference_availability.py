"""The reference's `GET /api/v1/stock/availability`: Stockroom's one statement (see
`AvailabilityRepository.availability`), the caller's check before it, and each product's
answer embedded as the statement built it, as Stockroom's router does."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bench.reference_auth import authenticate, pool

MAX_ASKED = 100  # Stockroom's MAX_IDS: product_id and sku in all
# The statement Stockroom runs, as it reaches the server ($1 ids, $2 SKUs, $3 locations;
# tests/unit/test_bench_reference.py holds the two the same).
AVAILABILITY = """
    SELECT a.ord, a.asked_id, a.asked_sku, a.product_id,
           CASE WHEN a.product_id IS NOT NULL THEN json_build_object(
               'product_id', a.product_id, 'sku', a.sku, 'on_hand', lv.on_hand,
               'reserved', lv.reserved, 'available', lv.on_hand - lv.reserved,
               'incoming', lv.incoming, 'locations', lv.locations
           )::text END AS item
    FROM (
        SELECT t.ord, t.id AS asked_id, NULL::text AS asked_sku, p.id AS product_id, p.sku
        FROM unnest(CAST($1::UUID[] AS uuid[])) WITH ORDINALITY AS t(id, ord)
        LEFT JOIN LATERAL (
            SELECT id, sku FROM products WHERE products.id = t.id OFFSET 0
        ) AS p ON true
        UNION ALL
        SELECT cardinality(CAST($1::UUID[] AS uuid[])) + s.ord, NULL::uuid, s.sku, p.id, p.sku
        FROM unnest(CAST($2::TEXT[] AS text[])) WITH ORDINALITY AS s(sku, ord)
        LEFT JOIN LATERAL (
            SELECT id, sku FROM products WHERE lower(products.sku) = lower(s.sku) OFFSET 0
        ) AS p ON true
    ) AS a
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(s.on_hand), 0)::bigint AS on_hand,
               coalesce(sum(s.reserved), 0)::bigint AS reserved,
               coalesce(sum(s.incoming), 0)::bigint AS incoming,
               coalesce(
                   json_agg(
                       json_build_object(
                           'location_id', l.id, 'code', l.code, 'on_hand', s.on_hand,
                           'reserved', s.reserved, 'available', s.on_hand - s.reserved,
                           'incoming', s.incoming
                       ) ORDER BY l.code
                   ),
                   '[]'::json
               ) AS locations
        FROM stock_levels AS s
        JOIN locations AS l ON l.id = s.location_id
        WHERE s.product_id = a.product_id
          AND NOT l.is_archived AND NOT l.is_transit
          AND (cardinality(CAST($3::UUID[] AS uuid[])) = 0
               OR s.location_id = ANY(CAST($3::UUID[] AS uuid[])))
    ) AS lv ON true
    ORDER BY a.ord
"""


def _uuids(request: Request, name: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in request.query_params.getlist(name)]
    except ValueError:
        raise HTTPException(422, f"{name} must be UUIDs") from None


def _item(row: Any) -> orjson.Fragment:
    """The product's answer as the statement built it, embedded as Stockroom embeds it."""
    if row["product_id"] is None:
        asked_id, asked_sku = row["asked_id"], row["asked_sku"]
        asked = f"id {asked_id}" if asked_id is not None else f"sku {asked_sku}"
        raise HTTPException(404, f"No product with {asked}")
    return orjson.Fragment(row["item"])


async def availability(request: Request) -> Response:
    ids, skus = _uuids(request, "product_id"), request.query_params.getlist("sku")
    locations = _uuids(request, "location_id")
    if not 0 < len(ids) + len(skus) <= MAX_ASKED:
        raise HTTPException(422, f"Ask for 1 to {MAX_ASKED} products")
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        rows = await conn.fetch(AVAILABILITY, ids, skus, locations)
    body = orjson.dumps({"items": [_item(row) for row in rows]})
    return Response(body, media_type="application/json")
