"""Every write appends exactly its events to the change feed's log, in its own transaction.

The log is read with SQL on the test's connection (the app's sessions join its transaction),
counting only events appended after a mark taken once the fixtures are in place.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import (
    Item,
    new_location,
    new_product,
    post_count,
    post_movement,
    post_transfer,
    receive,
)

API = "/api/v1"


class Log:
    """The events appended since `mark()`, as (type, data) pairs, oldest first."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.since = 0

    async def mark(self) -> None:
        self.since = int(
            await self.connection.scalar(text("SELECT coalesce(max(seq), 0) FROM events"))
        )

    async def new(self) -> list[tuple[str, dict[str, Any]]]:
        rows = await self.connection.execute(
            text("SELECT type, data FROM events WHERE seq > :s ORDER BY seq"), {"s": self.since}
        )
        return [(row.type, row.data) for row in rows]


@pytest.fixture
async def log(connection: AsyncConnection) -> Log:
    return Log(connection)


def below(product: Item, location: Item, on_hand: int) -> tuple[str, dict[str, Any]]:
    return (
        "level.below_reorder",
        {
            "product_id": product["id"],
            "location_id": location["id"],
            "on_hand": on_hand,
            "available": on_hand,
            "reorder_point": product["reorder_point"],
        },
    )


async def _idempotency_records(connection: AsyncConnection) -> int:
    return int(await connection.scalar(text("SELECT count(*) FROM idempotency_records")))


# ------------------------------------------------------------------ movements


async def test_a_movement_emits_movement_created_with_the_movement(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], log: Log
) -> None:
    product, a, _ = stocked
    await log.mark()
    response = await post_movement(client, clerk_headers, product, a, "issue", 2)
    assert response.status_code == 201
    assert await log.new() == [("movement.created", response.json())]


async def test_crossing_the_reorder_point_emits_below_reorder_once(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], log: Log
) -> None:
    product, a, _ = stocked
    await log.mark()
    # 10 → 5: stays at the reorder point, not below it.
    staying = await post_movement(client, clerk_headers, product, a, "issue", 5)
    # 5 → 4: from at-or-above to below.
    crossing = await post_movement(client, clerk_headers, product, a, "issue", 1)
    # 4 → 1: already below.
    deeper = await post_movement(client, clerk_headers, product, a, "issue", 3)
    # 1 → 3: a receipt never crosses downwards.
    receipt = await post_movement(client, clerk_headers, product, a, "receipt", 2)
    assert await log.new() == [
        ("movement.created", staying.json()),
        ("movement.created", crossing.json()),
        below(product, a, 4),
        ("movement.created", deeper.json()),
        ("movement.created", receipt.json()),
    ]


async def test_a_product_without_reorder_point_never_emits_below_reorder(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    log: Log,
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, location, 3)
    await log.mark()
    emptied = await post_movement(client, clerk_headers, product, location, "issue", 3)
    assert await log.new() == [("movement.created", emptied.json())]


async def test_a_refused_posting_emits_nothing_and_stores_no_key(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    stocked: tuple[Item, Item, Item],
    log: Log,
    connection: AsyncConnection,
) -> None:
    product, a, b = stocked
    await log.mark()
    keyed = {**clerk_headers, "Idempotency-Key": "refused-posting"}
    short = await post_movement(client, keyed, product, a, "issue", 11)
    assert short.status_code == 409
    assert short.json()["type"] == "/problems/insufficient-stock"
    invalid = await post_movement(client, keyed, product, a, "issue", 0)
    assert invalid.status_code == 422
    transfer = await post_transfer(client, keyed, product, b, a, 1)
    assert transfer.status_code == 409
    assert await log.new() == []
    assert await _idempotency_records(connection) == 0


async def test_a_posting_on_an_archived_product_emits_nothing(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    log: Log,
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    archived = await client.delete(f"{API}/products/{product['id']}", headers=manager_headers)
    assert archived.status_code == 204
    await log.mark()
    refused = await post_movement(client, clerk_headers, product, location, "receipt", 1)
    assert refused.status_code == 409
    assert await log.new() == []


async def test_a_replay_emits_nothing_and_answers_byte_for_byte(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    stocked: tuple[Item, Item, Item],
    log: Log,
    connection: AsyncConnection,
) -> None:
    product, a, _ = stocked
    keyed = {**clerk_headers, "Idempotency-Key": "replayed-issue"}
    await log.mark()
    first = await post_movement(client, keyed, product, a, "issue", 6)
    assert first.status_code == 201
    emitted = await log.new()
    assert emitted == [("movement.created", first.json()), below(product, a, 4)]

    again = await post_movement(client, keyed, product, a, "issue", 6)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await log.new() == emitted  # nothing more
    assert await _idempotency_records(connection) == 1

    reused = await post_movement(client, keyed, product, a, "issue", 1)
    assert reused.status_code == 422
    assert reused.json()["type"] == "/problems/idempotency-key-reused"
    assert await log.new() == emitted


# ------------------------------------------------------------------ transfers and counts


async def test_a_transfer_emits_both_legs_and_the_source_crossing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], log: Log
) -> None:
    product, a, b = stocked
    await log.mark()
    response = await post_transfer(client, clerk_headers, product, a, b, 7)
    assert response.status_code == 201
    out, into = response.json()["movements"]
    # The target (0 → 7) was below and is now above: no event for it.
    assert await log.new() == [
        ("movement.created", out),
        below(product, a, 3),
        ("movement.created", into),
    ]


async def test_a_transfer_that_keeps_the_source_above_emits_only_the_legs(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], log: Log
) -> None:
    product, a, b = stocked
    await log.mark()
    response = await post_transfer(client, clerk_headers, product, a, b, 5)
    assert response.status_code == 201
    assert await log.new() == [("movement.created", m) for m in response.json()["movements"]]


async def test_a_count_emits_each_adjustment_and_its_crossing(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    stocked: tuple[Item, Item, Item],
    log: Log,
) -> None:
    product, a, _ = stocked
    other = await new_product(client, manager_headers, reorder_point=2)
    unchanged = await new_product(client, manager_headers, reorder_point=2)
    await receive(client, clerk_headers, other, a, 1)  # already below its reorder point
    await receive(client, clerk_headers, unchanged, a, 4)
    await log.mark()
    response = await post_count(client, clerk_headers, a, (product, 2), (other, 0), (unchanged, 4))
    assert response.status_code == 201
    first, second = response.json()["movements"]
    assert await log.new() == [
        ("movement.created", first),
        below(product, a, 2),
        ("movement.created", second),
    ]


async def test_a_count_that_changes_nothing_emits_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], log: Log
) -> None:
    product, a, _ = stocked
    await log.mark()
    response = await post_count(client, clerk_headers, a, (product, 10))
    assert response.status_code == 201
    assert response.json()["movements"] == []
    assert await log.new() == []


# ------------------------------------------------------------------ the catalog

CATALOG = [
    ("products", "product", lambda n: {"sku": f"EV-{n}", "name": f"Evented {n}"}),
    ("locations", "location", lambda n: {"code": f"EV-{n}", "name": f"Evented {n}"}),
]


@pytest.mark.parametrize(("path", "noun", "body"), CATALOG, ids=[c[1] for c in CATALOG])
async def test_catalog_changes_emit_the_item_after_each_change(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    log: Log,
    path: str,
    noun: str,
    body: Any,
) -> None:
    await log.mark()
    created = await client.post(f"{API}/{path}", json=body(1), headers=manager_headers)
    assert created.status_code == 201
    item = f"{API}/{path}/{created.json()['id']}"
    updated = await client.patch(
        item,
        json={"name": "Renamed"},
        headers={**manager_headers, "If-Match": created.headers["etag"]},
    )
    assert updated.status_code == 200
    assert (await client.delete(item, headers=manager_headers)).status_code == 204
    archived = await client.get(item, headers=manager_headers)
    restored = await client.post(f"{item}/restore", headers=manager_headers)
    assert restored.status_code == 200
    assert await log.new() == [
        (f"{noun}.created", created.json()),
        (f"{noun}.updated", updated.json()),
        (f"{noun}.archived", archived.json()),
        (f"{noun}.restored", restored.json()),
    ]


@pytest.mark.parametrize(("path", "noun", "body"), CATALOG, ids=[c[1] for c in CATALOG])
async def test_catalog_writes_that_change_nothing_or_fail_emit_nothing(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    log: Log,
    path: str,
    noun: str,
    body: Any,
) -> None:
    created = await client.post(f"{API}/{path}", json=body(2), headers=manager_headers)
    item = f"{API}/{path}/{created.json()['id']}"
    etag = created.headers["etag"]
    await log.mark()
    same = await client.patch(
        item, json={"name": created.json()["name"]}, headers={**manager_headers, "If-Match": etag}
    )
    assert same.status_code == 200
    assert same.json()["version"] == created.json()["version"]
    restored_active = await client.post(f"{item}/restore", headers=manager_headers)
    assert restored_active.status_code == 200
    duplicate = await client.post(f"{API}/{path}", json=body(2), headers=manager_headers)
    assert duplicate.status_code == 409
    stale = await client.patch(
        item, json={"name": "Stale"}, headers={**manager_headers, "If-Match": '"999"'}
    )
    assert stale.status_code == 412
    forbidden = await client.patch(
        item, json={"name": "Clerk"}, headers={**clerk_headers, "If-Match": etag}
    )
    assert forbidden.status_code == 403
    assert await log.new() == []

    # Archiving twice: one event, for the change that happened.
    assert (await client.delete(item, headers=manager_headers)).status_code == 204
    assert (await client.delete(item, headers=manager_headers)).status_code == 204
    assert [kind for kind, _ in await log.new()] == [f"{noun}.archived"]


async def test_archiving_a_location_with_stock_emits_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, stocked: tuple[Item, Item, Item], log: Log
) -> None:
    _, a, _ = stocked
    await log.mark()
    refused = await client.delete(f"{API}/locations/{a['id']}", headers=manager_headers)
    assert refused.status_code == 409
    assert await log.new() == []
