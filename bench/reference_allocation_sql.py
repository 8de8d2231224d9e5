"""The statements of Stockroom's `POST /api/v1/stock/allocations`, as they reach the server
(its round trips in order: `reference_allocation.py` runs them). tests/unit/
test_bench_reference.py holds the allocation's own ones equal to Stockroom's."""

from __future__ import annotations

LOCK_PRODUCTS = (
    "SELECT products.id, products.reorder_point, products.is_archived \n"
    "FROM products \n"
    "WHERE products.id = ANY ($1::UUID[]) ORDER BY products.id FOR NO KEY UPDATE"
)
LOCK_SOURCES = (
    "\n"
    "    SELECT l.id, l.code, l.is_archived, l.is_transit\n"
    "    FROM locations AS l\n"
    "    WHERE l.id = ANY(CAST($1::UUID[] AS uuid[]))\n"
    "       OR (NOT l.is_archived AND NOT l.is_transit AND EXISTS (\n"
    "            SELECT 1 FROM stock_levels AS s\n"
    "            WHERE s.location_id = l.id AND s.product_id = ANY(CAST($2::UUID[] "
    "AS uuid[]))))\n"
    "    ORDER BY l.id\n"
    "    FOR SHARE OF l\n"
    "    "
)
LOCK_LEVELS = (
    "\n"
    "    SELECT s.product_id, s.location_id, s.on_hand, s.reserved\n"
    "    FROM stock_levels AS s\n"
    "    WHERE s.product_id = ANY(CAST($1::UUID[] AS uuid[]))\n"
    "      AND s.location_id = ANY(CAST($2::UUID[] AS uuid[]))\n"
    "    ORDER BY s.product_id, s.location_id\n"
    "    FOR UPDATE OF s\n"
    "    "
)
EXPIRE_OVERDUE = (
    "UPDATE reservations SET status=$1, updated_at=now() WHERE "
    "(reservations.product_id, reservations.location_id) IN (SELECT "
    "level.product_id, level.location_id \n"
    "FROM unnest($2::UUID[], $3::UUID[]) AS level(product_id, location_id)) AND "
    "reservations.status = $4 AND reservations.expires_at <= now() RETURNING "
    "reservations.product_id, reservations.location_id, reservations.quantity, "
    "reservations.remaining, reservations.status, reservations.expires_at, "
    "reservations.reference, reservations.created_by, reservations.actor, "
    "reservations.allocation_id, reservations.allocation_line_id, reservations.id, "
    "reservations.created_at, reservations.updated_at"
)
INSERT_ALLOCATION = (
    "INSERT INTO allocations (reference, status, expires_at, created_by, actor, id) "
    "VALUES ($1::VARCHAR, $2, (now() + $3::INTERVAL), $4::UUID, $5::JSONB, $6::UUID) "
    "RETURNING allocations.expires_at, allocations.created_at, allocations.updated_at"
)
INSERT_LINES = (
    "INSERT INTO allocation_lines (id, allocation_id, position, product_id, "
    "quantity, fulfilled) SELECT v.id, v.allocation_id, v.position, v.product_id, "
    "v.quantity, v.fulfilled \n"
    "FROM unnest(CAST($1 AS UUID[]), CAST($2 AS UUID[]), CAST($3 AS INTEGER[]), "
    "CAST($4 AS UUID[]), CAST($5 AS BIGINT[]), CAST($6 AS BIGINT[])) WITH ORDINALITY "
    "AS v(id, allocation_id, position, product_id, quantity, fulfilled, n) ORDER BY "
    "v.n"
)
INSERT_PICKS = (
    "INSERT INTO reservations (id, product_id, location_id, quantity, remaining, "
    "status, expires_at, reference, created_by, actor, allocation_id, "
    "allocation_line_id) SELECT v.id, v.product_id, v.location_id, v.quantity, "
    "v.remaining, v.status, v.expires_at, v.reference, v.created_by, v.actor, "
    "v.allocation_id, v.allocation_line_id \n"
    "FROM unnest(CAST($1 AS UUID[]), CAST($2 AS UUID[]), CAST($3 AS UUID[]), CAST($4 "
    "AS BIGINT[]), CAST($5 AS BIGINT[]), CAST($6 AS VARCHAR(16)[]), CAST($7 AS "
    "TIMESTAMP WITH TIME ZONE[]), CAST($8 AS VARCHAR(200)[]), CAST($9 AS UUID[]), "
    "CAST($10 AS JSONB[]), CAST($11 AS UUID[]), CAST($12 AS UUID[])) WITH ORDINALITY "
    "AS v(id, product_id, location_id, quantity, remaining, status, expires_at, "
    "reference, created_by, actor, allocation_id, allocation_line_id, n) ORDER BY "
    "v.n RETURNING reservations.id, reservations.created_at"
)
CHANGE_LEVELS = (
    "\n"
    "    UPDATE stock_levels AS s\n"
    "    SET on_hand = s.on_hand + d.on_hand,\n"
    "        reserved = s.reserved - d.unreserve,\n"
    "        incoming = s.incoming + d.incoming,\n"
    "        updated_at = now()\n"
    "    FROM unnest(\n"
    "        CAST($1::UUID[] AS uuid[]), CAST($2::UUID[] AS uuid[]), "
    "CAST($3::BIGINT[] AS bigint[]),\n"
    "        CAST($4::BIGINT[] AS bigint[]), CAST($5::BIGINT[] AS bigint[])\n"
    "    ) AS d(product_id, location_id, on_hand, unreserve, incoming)\n"
    "    WHERE s.product_id = d.product_id AND s.location_id = d.location_id\n"
    "    "
)
CLOSE = (
    "WITH new_events AS (INSERT INTO events (type, data, movement_id, actor) SELECT "
    "e.type, CAST(e.data AS jsonb), e.movement_id, CAST(e.actor AS jsonb) FROM "
    "unnest(CAST($1 AS text[]), CAST($2 AS text[]), CAST($3 AS uuid[]), CAST($4 AS "
    "text[])) WITH ORDINALITY AS e(type, data, movement_id, actor, n) ORDER BY e.n), "
    "new_record AS (INSERT INTO idempotency_records (user_id, key, request_hash, "
    "response_status, response_body, location) VALUES ($5, $6, $7, $8, $9::BYTEA, "
    "$10)) SELECT pg_notify('events', '')"
)
