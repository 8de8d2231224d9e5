"""What a shop may sell of several products: one statement, whatever their count."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.prepared import fetch

# The asked ids, then the asked SKUs, numbered in the order asked (a product asked twice is
# two rows), each looked up by its own index (the id's primary key, the SKU's unique
# lower(sku); the `OFFSET 0` keeps each lookup a per-row index probe: joined plainly, the
# planner hashed the whole catalog on every call, twice), then its levels at active,
# non-transit locations. Each found product's answer (AvailabilityRead's fields, in its
# order: totals, then the levels by location code) is built here as JSON text, which the
# router embeds as it is: decoding it, validating it and encoding it again cost a call
# more than the rest of the request (bench/README.md, "Availability"). An unknown product
# keeps its row with a NULL id, so the caller can name it: no second query. A plain SELECT
# (no WITH): read-only request sessions run only those (src.core.readonly).
_AVAILABILITY = text(
    """
    SELECT a.ord, a.asked_id, a.asked_sku, a.product_id,
           CASE WHEN a.product_id IS NOT NULL THEN json_build_object(
               'product_id', a.product_id, 'sku', a.sku, 'on_hand', lv.on_hand,
               'reserved', lv.reserved, 'available', lv.on_hand - lv.reserved,
               'incoming', lv.incoming, 'locations', lv.locations
           )::text END AS item
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
          AND (cardinality(CAST(:locations AS uuid[])) = 0
               OR s.location_id = ANY(CAST(:locations AS uuid[])))
    ) AS lv ON true
    ORDER BY a.ord
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
    ) -> list[dict[str, Any]]:
        """One row per asked product in the asked order: `item`, its answer as JSON text, or
        `product_id` and `item` None when unknown. Run on the driver (`src.core.prepared`)."""
        return await fetch(
            self.session, _AVAILABILITY, {"ids": ids, "skus": skus, "locations": locations}
        )
