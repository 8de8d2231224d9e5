"""The reference's posting (POST /api/v1/stock/movements): Stockroom's statements, in its
order, written plainly (see `LevelRepository.post` and `EventRepository.write`)."""

from __future__ import annotations

from bench.reference_feed import FEED_CHANNEL

TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))"
FIND_RECORD = (
    "SELECT user_id, key, request_hash, response_status, response_body, location, created_at"
    " FROM idempotency_records WHERE user_id = $1 AND key = $2"
)
# Stockroom's posting (LevelRepository.post): one statement locks the product and the
# location FOR SHARE, applies the delta to the level only if both exist and neither is
# archived (a decrease only if enough is on hand), and inserts the ledger row.
_USABLE = (
    "EXISTS (SELECT * FROM product WHERE product.is_archived IS false)"
    " AND EXISTS (SELECT * FROM location WHERE location.is_archived IS false"
    " AND location.is_transit IS false)"
)
_POST = (
    "WITH product AS (SELECT id, reorder_point, is_archived FROM products"
    " WHERE id = $1::UUID FOR SHARE),"
    " location AS (SELECT id, is_archived, is_transit FROM locations WHERE id = $2::UUID"
    " FOR SHARE),"
    " level AS ({level}),"
    " movement AS (INSERT INTO stock_movements (id, product_id, location_id, kind, quantity,"
    " reason, reference, note, created_by, actor, request_id, balance_after)"
    " SELECT $4::UUID, $1::UUID, $2::UUID, $5, $3::BIGINT, $6, $7::VARCHAR, $8::VARCHAR,"
    " $9::UUID, $11::JSONB, $10::VARCHAR, level.on_hand FROM level"
    " RETURNING created_at, balance_after)"
    " SELECT product.id AS found_product, product.is_archived AS product_archived,"
    " product.reorder_point, location.id AS found_location,"
    " location.is_archived AS location_archived, location.is_transit AS location_transit,"
    " level.reserved, movement.created_at, movement.balance_after"
    " FROM (SELECT 1 AS one) AS one LEFT JOIN product ON true LEFT JOIN location ON true"
    " LEFT JOIN level ON true LEFT JOIN movement ON true"
)
POST_INCREASE = _POST.format(
    level="INSERT INTO stock_levels (product_id, location_id, on_hand)"
    f" SELECT $1::UUID, $2::UUID, $3::BIGINT WHERE {_USABLE}"
    " ON CONFLICT (product_id, location_id) DO UPDATE"
    " SET on_hand = (stock_levels.on_hand + excluded.on_hand), updated_at = now()"
    " RETURNING stock_levels.on_hand, stock_levels.reserved"
)
POST_DECREASE = _POST.format(
    level="UPDATE stock_levels SET on_hand = (stock_levels.on_hand + $3::BIGINT),"  # noqa: S608
    " updated_at = now() WHERE stock_levels.product_id = $1::UUID"
    " AND stock_levels.location_id = $2::UUID"
    " AND stock_levels.on_hand - stock_levels.reserved >= -$3::BIGINT"
    f" AND {_USABLE} RETURNING stock_levels.on_hand, stock_levels.reserved"
)
AVAILABLE = "SELECT on_hand - reserved FROM stock_levels WHERE product_id = $1 AND location_id = $2"
# What the unit of work writes just before COMMIT, in one statement: the events, the
# stored response (with an Idempotency-Key) and the NOTIFY that wakes feed readers.
EVENT_VALUES = "(${}::VARCHAR, ${}::JSONB, ${}::UUID, ${}::JSONB)"
RECORD = (
    "new_record AS (INSERT INTO idempotency_records (user_id, key, request_hash,"
    " response_status, response_body, location) VALUES (${}::UUID, ${}::VARCHAR, ${}::VARCHAR,"
    " ${}::INTEGER, ${}::BYTEA, ${}::VARCHAR))"
)


def flush_statement(events: int, record: bool) -> str:
    """The closing statement for `events` events (4 parameters each: type, data, movement,
    actor), then the record's 6."""
    values = ", ".join(EVENT_VALUES.format(*range(4 * i + 1, 4 * i + 5)) for i in range(events))
    insert = f"INSERT INTO events (type, data, movement_id, actor) VALUES {values}"  # noqa: S608
    parts = [f"new_events AS ({insert})"]
    if record:
        parts.append(RECORD.format(*range(4 * events + 1, 4 * events + 7)))
    return f"WITH {', '.join(parts)} SELECT pg_notify('{FEED_CHANNEL}', '')"
