"""The reference's `GET /api/v1/stock/availability`: Stockroom's one statement (see
`AvailabilityRepository.availability`), the caller's check before it, and the answer sent
as the statement built it, as Stockroom's router does."""

from __future__ import annotations

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bench.reference_auth import authenticate, pool

MAX_ASKED = 100  # Stockroom's MAX_IDS: product_id and sku in all
# The statement Stockroom runs, as it reaches the server ($1 ids, $2 SKUs, $3 locations;
# tests/unit/test_bench_reference.py holds the two the same).
AVAILABILITY = """
    SELECT '{"items":[' || coalesce(string_agg(x.item, ',' ORDER BY x.ord), '') || ']}'
               AS body,
           (array_agg(x.missing ORDER BY x.ord) FILTER (WHERE x.missing IS NOT NULL))[1]
               AS missing
    FROM (
    SELECT a.ord,
           CASE WHEN a.product_id IS NOT NULL THEN
               '{"product_id":"' || a.product_id || '","sku":' || to_json(a.sku)::text
               || ',"on_hand":' || lv.on_hand || ',"reserved":' || lv.reserved
               || ',"available":' || (lv.on_hand - lv.reserved)
               || ',"incoming":' || lv.incoming || ',"locations":[' || lv.locations || ']}'
           END AS item,
           CASE WHEN a.product_id IS NULL THEN
               coalesce('id ' || a.asked_id, 'sku ' || a.asked_sku)
           END AS missing
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
                   string_agg(
                       '{"location_id":"' || l.id || '","code":' || to_json(l.code)::text
                       || ',"on_hand":' || s.on_hand || ',"reserved":' || s.reserved
                       || ',"available":' || (s.on_hand - s.reserved)
                       || ',"incoming":' || s.incoming || '}',
                       ',' ORDER BY l.code
                   ),
                   ''
               ) AS locations
        FROM stock_levels AS s
        JOIN locations AS l ON l.id = s.location_id
        WHERE s.product_id = a.product_id
          AND NOT l.is_archived AND NOT l.is_transit
          AND (cardinality(CAST($3::UUID[] AS uuid[])) = 0
               OR s.location_id = ANY(CAST($3::UUID[] AS uuid[])))
    ) AS lv ON true
    ) AS x
    """


def _uuids(request: Request, name: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in request.query_params.getlist(name)]
    except ValueError:
        raise HTTPException(422, f"{name} must be UUIDs") from None


async def availability(request: Request) -> Response:
    ids, skus = _uuids(request, "product_id"), request.query_params.getlist("sku")
    locations = _uuids(request, "location_id")
    if not 0 < len(ids) + len(skus) <= MAX_ASKED:
        raise HTTPException(422, f"Ask for 1 to {MAX_ASKED} products")
    async with pool(request).acquire() as conn:
        await authenticate(request, conn)
        row = await conn.fetchrow(AVAILABILITY, ids, skus, locations)
    if row["missing"] is not None:
        raise HTTPException(404, f"No product with {row['missing']}")
    return Response(row["body"], media_type="application/json")
