"""What a shop may sell of several products: one statement, whatever their count."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.prepared import fetch

# The asked ids, then the asked SKUs, numbered in the order asked (a product asked twice is
# two rows), each looked up by its own index (the id's primary key, the SKU's unique
# lower(sku); the `OFFSET 0` keeps each lookup a per-row index probe: joined plainly, the
# planner hashed the whole catalog on every call, twice), then its levels at active,
# non-transit locations. The whole answer (AvailabilityList: each product's
# AvailabilityRead fields in their order, totals, then the levels by location code) is
# built here as one compact JSON text by concatenation (to_json() escapes the two strings;
# json_build_object took a quarter more of the statement's time), which the router sends as
# it is: decoding it, validating it and encoding it again cost a call more than the rest of
# the request (bench/README.md, "Availability"). The first unknown product asked is named
# in `missing` ("id …" or "sku …"), so the caller can refuse the call: no second query. A
# plain SELECT (no WITH): read-only request sessions run only those (src.core.readonly).
_AVAILABILITY = text(
    """
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
        FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS t(id, ord)
        LEFT JOIN LATERAL (
            SELECT id, sku FROM products WHERE products.id = t.id OFFSET 0
        ) AS p ON true
        UNION ALL
        SELECT cardinality(CAST(:ids AS uuid[])) + s.ord, NULL::uuid, s.sku, p.id, p.sku
        FROM unnest(CAST(:skus AS text[])) WITH ORDINALITY AS s(sku, ord)
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
          AND (cardinality(CAST(:locations AS uuid[])) = 0
               OR s.location_id = ANY(CAST(:locations AS uuid[])))
    ) AS lv ON true
    ) AS x
    """
).bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("skus", type_=ARRAY(TEXT)),
    bindparam("locations", type_=ARRAY(UUID(as_uuid=True))),
)


class AvailabilityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def availability(
        self, ids: list[uuid.UUID], skus: list[str], locations: list[uuid.UUID]
    ) -> tuple[str, str | None]:
        """The answer's JSON text (the asked products in the asked order), and the first
        unknown product asked ("id …" or "sku …"), if any. Run on the driver
        (`src.core.prepared`)."""
        rows = await fetch(
            self.session, _AVAILABILITY, {"ids": ids, "skus": skus, "locations": locations}
        )
        return rows[0]["body"], rows[0]["missing"]
