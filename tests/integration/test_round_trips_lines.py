"""Round trips of postings with many lines: a count, a shipment, a receipt and a cancellation
cost the same number whatever their line count (issue #23), as a batch does: the products
locked in one statement, the levels in one, changed in one, the ledger rows inserted in one.
Counted on the wire as in test_round_trips.py (its `counted` fixture)."""

from __future__ import annotations

from typing import Any

from tests.integration.test_round_trips import Counted, counted  # noqa: F401 (the fixture)
from tests.support.stock import API, new_product

Item = dict[str, Any]
# BEGIN, the user/session check, the location (FOR SHARE), the products (FOR SHARE, one
# statement), the levels' locks (one), their changes (one), the ledger rows (one INSERT), the
# events, COMMIT.
COUNT_TRIPS = 9


async def _products(on: Counted, n: int) -> list[Item]:
    return [await new_product(on.client, on.manager, reorder_point=2) for _ in range(n)]


def _count(on: Counted, products: list[Item], quantity: int) -> dict[str, Any]:
    lines = [{"product_id": p["id"], "counted": quantity} for p in products]
    return {"location_id": on.location["id"], "lines": lines}


async def _levels(on: Counted, location: Item) -> dict[str, tuple[int, int]]:
    """Every level at `location`: product id → (on_hand, incoming)."""
    found: dict[str, tuple[int, int]] = {}
    params: dict[str, Any] = {"location_id": location["id"], "limit": 100}
    while True:
        page = await on.client.get(f"{API}/stock/levels", params=params, headers=on.clerk)
        assert page.status_code == 200, page.text
        body = page.json()
        found |= {i["product_id"]: (i["on_hand"], i["incoming"]) for i in body["items"]}
        if body["next_cursor"] is None:
            return found
        params["cursor"] = body["next_cursor"]


async def test_a_count_costs_the_same_round_trips_for_any_number_of_lines(
    counted: Counted,  # noqa: F811 (the fixture)
) -> None:
    url = f"{API}/stock/counts"
    warm, few_products, many_products = (
        await _products(counted, 2),
        await _products(counted, 10),
        await _products(counted, 200),
    )
    for quantity in (4, 6):
        response = await counted.client.post(
            url, json=_count(counted, warm, quantity), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
    small, few = await counted.trips("POST", url, json=_count(counted, few_products, 7))
    assert small.status_code == 201, small.text
    large, many = await counted.trips("POST", url, json=_count(counted, many_products, 3))
    assert large.status_code == 201, large.text
    assert len(few) == len(many) == COUNT_TRIPS, many
    # Every line posted, with its own ledger row, and every level set to what was counted.
    assert [m["quantity"] for m in large.json()["movements"]] == [3] * 200
    assert [m["balance_after"] for m in small.json()["movements"]] == [7] * 10
    levels = await _levels(counted, counted.location)
    assert all(levels[p["id"]] == (3, 0) for p in many_products)
    assert all(levels[p["id"]] == (7, 0) for p in few_products)
    # Counted again at the same figures: nothing to adjust, so no changes, no ledger rows and
    # no events to write.
    same, unchanged = await counted.trips("POST", url, json=_count(counted, many_products, 3))
    assert (same.status_code, same.json()["movements"]) == (201, [])
    assert len(unchanged) == COUNT_TRIPS - 3, unchanged


async def test_a_long_count_naming_an_unknown_or_archived_product_changes_nothing(
    counted: Counted,  # noqa: F811 (the fixture)
) -> None:
    url = f"{API}/stock/counts"
    products = await _products(counted, 50)
    archived = await _products(counted, 1)
    gone = await counted.client.delete(
        f"{API}/products/{archived[0]['id']}", headers=counted.manager
    )
    assert gone.status_code == 204, gone.text
    unknown = {"id": "01900000-0000-7000-8000-000000000000"}
    for extra, status, slug in ((unknown, 404, "not-found"), (archived[0], 409, "conflict")):
        body = _count(counted, [*products[:25], extra, *products[25:]], 9)
        response = await counted.client.post(url, json=body, headers=counted.clerk)
        assert response.status_code == status, response.text
        assert response.json()["type"].endswith(f"/problems/{slug}")
    levels = await _levels(counted, counted.location)
    assert not any(p["id"] in levels for p in products), "nothing counted, no level made"
    ledger = await counted.client.get(
        f"{API}/stock/movements",
        params={"product_id": products[0]["id"]},
        headers=counted.clerk,
    )
    assert ledger.json()["items"] == []
