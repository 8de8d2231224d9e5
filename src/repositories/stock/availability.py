"""What a shop may sell of several products: one statement, whatever their count."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT, UUID
from sqlalchemy.ext.asyncio import AsyncSession

# The asked ids, then the asked SKUs, numbered in the order asked (a product asked twice is
# two rows), each joined to its product (SKUs case-insensitively, as they are unique) and to
# its levels at active, non-transit locations as a JSON array ordered by location code. An
# unknown product keeps its row with a NULL id, so the caller can name it: no second query.
# A plain SELECT (no WITH): read-only request sessions run only those (src.core.readonly).
_AVAILABILITY = text(
    """
    SELECT a.ord, a.id AS asked_id, a.sku AS asked_sku, p.id AS product_id, p.sku,
           lv.locations
    FROM (
        SELECT t.ord, t.id, NULL::text AS sku
        FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS t(id, ord)
        UNION ALL
        SELECT cardinality(CAST(:ids AS uuid[])) + s.ord, NULL::uuid, s.sku
        FROM unnest(CAST(:skus AS text[])) WITH ORDINALITY AS s(sku, ord)
    ) AS a
    LEFT JOIN products AS by_id ON by_id.id = a.id
    LEFT JOIN products AS by_sku ON lower(by_sku.sku) = lower(a.sku)
    LEFT JOIN products AS p ON p.id = coalesce(by_id.id, by_sku.id)
    LEFT JOIN LATERAL (
        SELECT coalesce(
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
        WHERE s.product_id = p.id
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
    ) -> list[Row[Any]]:
        """One row per asked product in the asked order (`product_id` NULL when unknown),
        with `locations` the JSON list of its levels."""
        result = await self.session.execute(
            _AVAILABILITY, {"ids": ids, "skus": skus, "locations": locations}
        )
        return list(result.all())
