"""Rules across fields answer 422 at the field they are about, with a sentence a form can
show beside it, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import Item, new_location, new_product, on_hand, receive

STOCK = "/api/v1/stock"


@pytest.fixture
async def stocked(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> tuple[Item, Item, Item]:
    """A product with 5 on hand at the first of two locations."""
    product = await new_product(client, manager_headers)
    a, b = await new_location(client, manager_headers), await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, a, 5)
    return product, a, b


async def _ledger_size(client: httpx.AsyncClient, headers: Headers, product: Item) -> int:
    response = await client.get(
        f"{STOCK}/movements", params={"product_id": product["id"]}, headers=headers
    )
    assert response.status_code == 200
    return len(response.json()["items"])


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    errors: list[dict[str, Any]] = body["errors"]
    return errors


@pytest.mark.parametrize(
    ("kind", "quantity", "extra", "loc", "msg"),
    [
        ("receipt", 0, {}, "quantity", "The quantity of a receipt must be positive"),
        ("issue", -2, {}, "quantity", "The quantity of an issue must be positive"),
        (
            "adjustment",
            0,
            {"reason": "count"},
            "quantity",
            "The quantity of an adjustment must not be zero",
        ),
        ("adjustment", -1, {}, "reason", "An adjustment needs a reason"),
        ("adjustment", 2, {"reason": None}, "reason", "An adjustment needs a reason"),
        ("receipt", 3, {"reason": "found"}, "reason", "Only adjustments take a reason"),
        ("issue", 1, {"reason": "damage"}, "reason", "Only adjustments take a reason"),
    ],
)
async def test_movement_rules_point_at_the_field(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    stocked: tuple[Item, Item, Item],
    kind: str,
    quantity: int,
    extra: dict[str, Any],
    loc: str,
    msg: str,
) -> None:
    product, a, _ = stocked
    body = {"product_id": product["id"], "location_id": a["id"], "kind": kind}
    response = await client.post(
        f"{STOCK}/movements", json={**body, "quantity": quantity, **extra}, headers=clerk_headers
    )
    assert _errors(response) == [{"loc": ["body", loc], "msg": msg, "type": "value_error"}]
    assert await on_hand(client, clerk_headers, product, a) == 5
    assert await _ledger_size(client, clerk_headers, product) == 1


async def test_each_broken_movement_rule_is_reported(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    """A form learns of every field to fix at once, not one per attempt."""
    product, a, _ = stocked
    body = {"product_id": product["id"], "location_id": a["id"], "kind": "adjustment"}
    response = await client.post(
        f"{STOCK}/movements",
        json={**body, "quantity": 0, "note": "x" * 2001},
        headers=clerk_headers,
    )
    assert [error["loc"] for error in _errors(response)] == [
        ["body", "quantity"],
        ["body", "reason"],
        ["body", "note"],
    ]
    assert await _ledger_size(client, clerk_headers, product) == 1


async def test_a_bad_kind_is_reported_alone(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    # Without a kind, the kind rules cannot be judged: only the kind is named.
    product, a, _ = stocked
    body = {"product_id": product["id"], "location_id": a["id"], "kind": "gift", "quantity": 0}
    errors = _errors(await client.post(f"{STOCK}/movements", json=body, headers=clerk_headers))
    assert [error["loc"] for error in errors] == [["body", "kind"]]


async def test_a_transfer_to_its_source_points_at_the_destination(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, b = stocked
    body = {
        "product_id": product["id"],
        "from_location_id": a["id"],
        "to_location_id": a["id"],
        "quantity": 2,
    }
    response = await client.post(f"{STOCK}/transfers", json=body, headers=clerk_headers)
    assert _errors(response) == [
        {
            "loc": ["body", "to_location_id"],
            "msg": "The destination must be another location than the source",
            "type": "value_error",
        }
    ]
    assert await on_hand(client, clerk_headers, product, a) == 5
    assert await on_hand(client, clerk_headers, product, b) == 0
    assert await _ledger_size(client, clerk_headers, product) == 1


async def test_a_product_counted_twice_points_at_the_repeat(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    stocked: tuple[Item, Item, Item],
) -> None:
    product, a, _ = stocked
    other = await new_product(client, manager_headers)
    lines = [
        {"product_id": product["id"], "counted": 1},
        {"product_id": other["id"], "counted": 4},
        {"product_id": product["id"], "counted": 2},
    ]
    response = await client.post(
        f"{STOCK}/counts", json={"location_id": a["id"], "lines": lines}, headers=clerk_headers
    )
    assert _errors(response) == [
        {
            "loc": ["body", "lines", 2, "product_id"],
            "msg": "This product is already on an earlier line of the count",
            "type": "value_error",
        }
    ]
    assert await on_hand(client, clerk_headers, product, a) == 5
    assert await _ledger_size(client, clerk_headers, product) == 1
    assert await _ledger_size(client, clerk_headers, other) == 0


async def test_the_first_repeat_in_a_count_is_named(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    # One error per field validator: the first repeat; once fixed, the next is named.
    product, a, _ = stocked
    lines = [{"product_id": product["id"], "counted": n} for n in range(3)]
    response = await client.post(
        f"{STOCK}/counts", json={"location_id": a["id"], "lines": lines}, headers=clerk_headers
    )
    assert [error["loc"] for error in _errors(response)] == [["body", "lines", 1, "product_id"]]
    assert await on_hand(client, clerk_headers, product, a) == 5
