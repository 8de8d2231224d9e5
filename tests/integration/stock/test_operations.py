"""Transfers, counts, levels, idempotency keys and reconciliation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import Item, new_product, on_hand, post_movement, receive

API = "/api/v1/stock"


def transfer(product: Item, a: Item, b: Item, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": product["id"],
        "from_location_id": a["id"],
        "to_location_id": b["id"],
        "quantity": quantity,
        **extra,
    }


async def test_transfer_moves_both_legs(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, b = stocked
    response = await client.post(
        f"{API}/transfers", json=transfer(product, a, b, 4, reference="T-1"), headers=clerk_headers
    )
    assert response.status_code == 201
    body = response.json()
    out, into = body["movements"]
    assert (out["location_id"], out["quantity"], out["balance_after"]) == (a["id"], -4, 6)
    assert (into["location_id"], into["quantity"], into["balance_after"]) == (b["id"], 4, 4)
    assert out["transfer_id"] == into["transfer_id"] == body["transfer_id"]
    legs = await client.get(response.headers["location"], headers=clerk_headers)
    assert {m["id"] for m in legs.json()["items"]} == {out["id"], into["id"]}


async def test_transfer_beyond_stock_writes_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, b = stocked
    response = await client.post(
        f"{API}/transfers", json=transfer(product, a, b, 11), headers=clerk_headers
    )
    assert response.status_code == 409
    assert response.json()["available"] == 10
    assert await on_hand(client, clerk_headers, product, a) == 10
    assert await on_hand(client, clerk_headers, product, b) == 0


@pytest.mark.parametrize("bad", ["same", "zero", "unknown_to", "archived_to", "viewer"])
async def test_transfer_unhappy(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    viewer_headers: Headers,
    stocked: tuple[Item, Item, Item],
    bad: str,
) -> None:
    product, a, b = stocked
    body, headers, expected = transfer(product, a, b, 1), clerk_headers, 422
    if bad == "same":
        body["to_location_id"] = a["id"]
    elif bad == "zero":
        body["quantity"] = 0
    elif bad == "unknown_to":
        body["to_location_id"], expected = str(uuid.uuid4()), 404
    elif bad == "archived_to":
        await client.delete(f"/api/v1/locations/{b['id']}", headers=manager_headers)
        expected = 409
    else:
        headers, expected = viewer_headers, 403
    response = await client.post(f"{API}/transfers", json=body, headers=headers)
    assert response.status_code == expected
    assert await on_hand(client, clerk_headers, product, a) == 10


async def test_count_adjusts_only_differing_lines(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    stocked: tuple[Item, Item, Item],
) -> None:
    product, a, _ = stocked
    other = await new_product(client, manager_headers)
    third = await new_product(client, manager_headers)
    await receive(client, clerk_headers, third, a, 2)
    response = await client.post(
        f"{API}/counts",
        json={
            "location_id": a["id"],
            "lines": [
                {"product_id": product["id"], "counted": 7},
                {"product_id": other["id"], "counted": 3},
                {"product_id": third["id"], "counted": 2},
            ],
        },
        headers=clerk_headers,
    )
    assert response.status_code == 201
    body = response.json()
    adjustments = {m["product_id"]: m for m in body["movements"]}
    assert set(adjustments) == {product["id"], other["id"]}
    assert adjustments[product["id"]]["quantity"] == -3
    assert adjustments[other["id"]]["quantity"] == 3
    assert {m["reason"] for m in body["movements"]} == {"count"}
    assert {m["count_id"] for m in body["movements"]} == {body["count_id"]}
    assert await on_hand(client, clerk_headers, product, a) == 7


@pytest.mark.parametrize(
    "lines",
    [
        [],
        "duplicate",
        [{"product_id": "P", "counted": -1}],
        [{"product_id": "P", "counted": 1.5}],
        [{"product_id": "P"}],
    ],
)
async def test_count_rejects_bad_lines(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], lines: Any
) -> None:
    product, a, _ = stocked
    if lines == "duplicate":
        lines = [{"product_id": "P", "counted": 1}, {"product_id": "P", "counted": 2}]
    for line in lines:
        line["product_id"] = product["id"]
    response = await client.post(
        f"{API}/counts", json={"location_id": a["id"], "lines": lines}, headers=clerk_headers
    )
    assert response.status_code == 422


async def test_count_is_all_or_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, _ = stocked
    response = await client.post(
        f"{API}/counts",
        json={
            "location_id": a["id"],
            "lines": [
                {"product_id": product["id"], "counted": 1},
                {"product_id": str(uuid.uuid4()), "counted": 1},
            ],
        },
        headers=clerk_headers,
    )
    assert response.status_code == 404
    assert await on_hand(client, clerk_headers, product, a) == 10


async def test_levels_filters_and_below_reorder(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, b = stocked
    await client.post(f"{API}/transfers", json=transfer(product, a, b, 7), headers=clerk_headers)
    levels = await client.get(
        f"{API}/levels", params={"product_id": product["id"]}, headers=clerk_headers
    )
    by_location = {lvl["location_id"]: lvl["on_hand"] for lvl in levels.json()["items"]}
    assert by_location == {a["id"]: 3, b["id"]: 7}
    low = await client.get(
        f"{API}/levels",
        params={"product_id": product["id"], "below_reorder": "true"},
        headers=clerk_headers,
    )
    assert [lvl["location_id"] for lvl in low.json()["items"]] == [a["id"]]
    stock = await client.get(f"/api/v1/products/{product['id']}/stock", headers=clerk_headers)
    assert stock.json()["on_hand"] == 10
    assert len(stock.json()["locations"]) == 2
    missing = await client.get(f"/api/v1/products/{uuid.uuid4()}/stock", headers=clerk_headers)
    assert missing.status_code == 404


async def test_levels_reject_naive_as_of(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.get(
        f"{API}/levels", params={"as_of": "2026-01-01T00:00:00"}, headers=viewer_headers
    )
    assert response.status_code == 422


# ------------------------------------------------------------------ idempotency


async def test_idempotent_replay_is_byte_for_byte(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, _ = stocked
    headers = {**clerk_headers, "Idempotency-Key": "order-42/line-1"}
    first = await post_movement(client, headers, product, a, "issue", 2)
    again = await post_movement(client, headers, product, a, "issue", 2)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await on_hand(client, clerk_headers, product, a) == 8


async def test_same_key_different_body_is_422(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, _ = stocked
    headers = {**clerk_headers, "Idempotency-Key": "k-1"}
    await post_movement(client, headers, product, a, "issue", 2)
    response = await post_movement(client, headers, product, a, "issue", 3)
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/idempotency-key-reused"
    assert await on_hand(client, clerk_headers, product, a) == 8


async def test_keys_are_scoped_per_user(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    stocked: tuple[Item, Item, Item],
) -> None:
    product, a, _ = stocked
    await post_movement(
        client, {**clerk_headers, "Idempotency-Key": "shared"}, product, a, "issue", 1
    )
    other = await post_movement(
        client, {**manager_headers, "Idempotency-Key": "shared"}, product, a, "issue", 1
    )
    assert other.status_code == 201
    assert "idempotent-replayed" not in other.headers
    assert await on_hand(client, clerk_headers, product, a) == 8


async def test_a_failed_attempt_can_be_retried_with_its_key(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, _ = stocked
    headers = {**clerk_headers, "Idempotency-Key": "retry-me"}
    assert (await post_movement(client, headers, product, a, "issue", 12)).status_code == 409
    await receive(client, clerk_headers, product, a, 5)
    assert (await post_movement(client, headers, product, a, "issue", 12)).status_code == 201
    assert await on_hand(client, clerk_headers, product, a) == 3


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
async def test_bad_keys_are_422(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item], key: str
) -> None:
    product, a, _ = stocked
    response = await post_movement(
        client,
        {**clerk_headers, "Idempotency-Key": key.encode("utf-8")},
        product,
        a,
        "receipt",
        1,  # type: ignore[dict-item]
    )
    assert response.status_code == 422
    assert await on_hand(client, clerk_headers, product, a) == 10


async def test_idempotent_transfer_and_count_replay(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, b = stocked
    headers = {**clerk_headers, "Idempotency-Key": "t-1"}
    first = await client.post(f"{API}/transfers", json=transfer(product, a, b, 1), headers=headers)
    again = await client.post(f"{API}/transfers", json=transfer(product, a, b, 1), headers=headers)
    assert again.content == first.content
    count = {"location_id": b["id"], "lines": [{"product_id": product["id"], "counted": 0}]}
    headers = {**clerk_headers, "Idempotency-Key": "c-1"}
    c1 = await client.post(f"{API}/counts", json=count, headers=headers)
    c2 = await client.post(f"{API}/counts", json=count, headers=headers)
    assert c1.status_code == c2.status_code == 201
    assert c2.content == c1.content
    assert await on_hand(client, clerk_headers, product, b) == 0


async def test_expired_records_are_purged_and_the_key_reusable(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    connection: AsyncConnection,
    stocked: tuple[Item, Item, Item],
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from src.repositories.idempotency import IdempotencyRepository
    from src.services.idempotency import IdempotencyGuard

    product, a, _ = stocked
    headers = {**clerk_headers, "Idempotency-Key": "old"}
    await post_movement(client, headers, product, a, "issue", 1)
    await connection.execute(
        text(
            "UPDATE idempotency_records SET created_at = now() - interval '25 hours'"
            " WHERE key = 'old'"
        )
    )
    # Past the retention window the key is free again: the same request runs anew.
    rerun = await post_movement(client, headers, product, a, "issue", 1)
    assert "idempotent-replayed" not in rerun.headers
    await connection.execute(
        text("UPDATE idempotency_records SET created_at = now() - interval '25 hours'")
    )
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        purged = await IdempotencyGuard(IdempotencyRepository(session)).purge()
        await session.commit()
    assert purged >= 1
    left = await connection.scalar(text("SELECT count(*) FROM idempotency_records"))
    assert left == 0


# ------------------------------------------------------------------ reconciliation


async def test_reconciliation_finds_no_mismatch_then_a_corruption(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    admin_headers: Headers,
    connection: AsyncConnection,
    stocked: tuple[Item, Item, Item],
) -> None:
    product, a, b = stocked
    await client.post(f"{API}/transfers", json=transfer(product, a, b, 3), headers=clerk_headers)
    clean = await client.get(f"{API}/reconciliation", headers=admin_headers)
    assert clean.status_code == 200
    assert clean.json()["checked"] >= 2
    assert clean.json()["mismatches"] == []
    await connection.execute(
        text(
            "UPDATE stock_levels SET on_hand = on_hand + 1"
            " WHERE product_id = :p AND location_id = :l"
        ),
        {"p": product["id"], "l": a["id"]},
    )
    dirty = (await client.get(f"{API}/reconciliation", headers=admin_headers)).json()
    assert dirty["mismatches"] == [
        {
            "product_id": product["id"],
            "location_id": a["id"],
            "on_hand": 8,
            "ledger": 7,
            "reserved": 0,
            "held": 0,
            "incoming": 0,
            "pending_to_here": 0,
            "pending_in_transit": None,
        }
    ]


async def test_reconciliation_is_admin_only(
    client: httpx.AsyncClient, clerk_headers: Headers
) -> None:
    assert (await client.get(f"{API}/reconciliation")).status_code == 401
    assert (await client.get(f"{API}/reconciliation", headers=clerk_headers)).status_code == 403
