"""Stock for the `allocate` scenario: every seeded level gets a receipt large enough that
no run's holds exhaust it (seed-demo's levels hold tens of units; a run places thousands
of 1-unit holds, which stay reserved until they expire)."""

from __future__ import annotations

from bench.infra import fetch

TOP_UP = 1_000_000
# One receipt per level, in the ledger as any receipt is (balance_after the level's new
# on_hand), authored as the seed's movements are, and the levels raised to match: the
# reconciliation stays clean. Run before the feed's events are appended, so each of these
# movements gets its `movement.created` event as the seeded ones do.
_TOP_UP = """
WITH seed AS (SELECT created_by, actor FROM stock_movements LIMIT 1),
raised AS (
    UPDATE stock_levels SET on_hand = on_hand + $1, updated_at = now()
    RETURNING product_id, location_id, on_hand
), receipts AS (
    INSERT INTO stock_movements (id, product_id, location_id, kind, quantity, balance_after,
                                 reference, created_by, actor)
    SELECT gen_random_uuid(), r.product_id, r.location_id, 'receipt', $1, r.on_hand,
           'BENCH-TOP-UP', seed.created_by, seed.actor
    FROM raised AS r CROSS JOIN seed
    RETURNING 1
)
SELECT count(*) AS n FROM receipts
"""


async def top_up(url: str, quantity: int = TOP_UP) -> int:
    """Receive `quantity` at every level; how many levels."""
    return int((await fetch(url, _TOP_UP, quantity))[0]["n"])
