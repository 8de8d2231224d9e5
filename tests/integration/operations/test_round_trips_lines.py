"""Round trips of postings with many lines: a count, a shipment, a receipt and a cancellation
cost the same number whatever their line count (issue #23), as a batch does: the products
locked in one statement, the levels in one, changed in one, the ledger rows inserted in one.
Counted on the wire as in operations/test_round_trips.py (the `counted` fixture)."""

from __future__ import annotations

import pytest

from tests.support.round_trips import (
    CANCEL_TRIPS,
    COUNT_TRIPS,
    RECEIPT_TRIPS,
    SHIP_TRIPS,
    Counted,
    Item,
    count_body,
    levels_at,
    new_products,
    receipt_body,
    shipment_body,
    stocked_products,
)
from tests.support.stock import API, new_location


@pytest.mark.slow
async def test_a_count_costs_the_same_round_trips_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/counts"
    warm, few_products, many_products = (
        await new_products(counted, 2),
        await new_products(counted, 10),
        await new_products(counted, 200),
    )
    for quantity in (4, 6):
        response = await counted.client.post(
            url, json=count_body(counted, warm, quantity), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
    small, few = await counted.trips("POST", url, json=count_body(counted, few_products, 7))
    assert small.status_code == 201, small.text
    large, many = await counted.trips("POST", url, json=count_body(counted, many_products, 3))
    assert large.status_code == 201, large.text
    assert len(few) == len(many) == COUNT_TRIPS, many
    # Every line posted, with its own ledger row, and every level set to what was counted.
    assert [m["quantity"] for m in large.json()["movements"]] == [3] * 200
    assert [m["balance_after"] for m in small.json()["movements"]] == [7] * 10
    levels = await levels_at(counted, counted.location)
    assert all(levels[p["id"]] == (3, 0) for p in many_products)
    assert all(levels[p["id"]] == (7, 0) for p in few_products)
    # Counted again at the same figures: nothing to adjust, so no changes, no ledger rows and
    # no events to write.
    same, unchanged = await counted.trips("POST", url, json=count_body(counted, many_products, 3))
    assert (same.status_code, same.json()["movements"]) == (201, [])
    assert len(unchanged) == COUNT_TRIPS - 3, unchanged


async def test_a_long_count_naming_an_unknown_or_archived_product_changes_nothing(
    counted: Counted,
) -> None:
    url = f"{API}/stock/counts"
    products = await new_products(counted, 50)
    archived = await new_products(counted, 1)
    gone = await counted.client.delete(
        f"{API}/products/{archived[0]['id']}", headers=counted.manager
    )
    assert gone.status_code == 204, gone.text
    unknown = {"id": "01900000-0000-7000-8000-000000000000"}
    for extra, status, slug in ((unknown, 404, "not-found"), (archived[0], 409, "conflict")):
        body = count_body(counted, [*products[:25], extra, *products[25:]], 9)
        response = await counted.client.post(url, json=body, headers=counted.clerk)
        assert response.status_code == status, response.text
        assert response.json()["type"].endswith(f"/problems/{slug}")
    levels = await levels_at(counted, counted.location)
    assert not any(p["id"] in levels for p in products), "nothing counted, no level made"
    ledger = await counted.client.get(
        f"{API}/stock/movements",
        params={"product_id": products[0]["id"]},
        headers=counted.clerk,
    )
    assert ledger.json()["items"] == []


@pytest.mark.slow
async def test_shipments_receipts_and_cancellations_cost_the_same_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/shipments"
    to = await new_location(counted.client, counted.manager)
    warm, few_products, many_products = (
        await stocked_products(counted, 2),
        await stocked_products(counted, 10),
        await stocked_products(counted, 100),
    )
    warmed = []
    for _ in range(2):
        response = await counted.client.post(
            url, json=shipment_body(counted, to, warm), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
        warmed.append(response.json())
    small, few = await counted.trips("POST", url, json=shipment_body(counted, to, few_products))
    large, many = await counted.trips("POST", url, json=shipment_body(counted, to, many_products))
    assert (small.status_code, large.status_code) == (201, 201), large.text
    assert len(few) == len(many) == SHIP_TRIPS, many
    # Receipts: 3 received and 1 damaged on every line.
    for shipment in warmed:
        receipt = await counted.client.post(
            f"{url}/{shipment['id']}/receipts", json=receipt_body(warm), headers=counted.clerk
        )
        assert receipt.status_code == 201, receipt.text
    got_small, few = await counted.trips(
        "POST", f"{url}/{small.json()['id']}/receipts", json=receipt_body(few_products)
    )
    got_large, many = await counted.trips(
        "POST", f"{url}/{large.json()['id']}/receipts", json=receipt_body(many_products)
    )
    assert (got_small.status_code, got_large.status_code) == (201, 201), got_large.text
    assert len(few) == len(many) == RECEIPT_TRIPS, many
    assert {line["pending"] for line in got_large.json()["lines"]} == {0}
    assert got_large.json()["status"] == "completed"
    levels = await levels_at(counted, to)
    # Received 3 of 4 (one written off as damaged), nothing more on its way.
    assert all(levels[p["id"]] == (3, 0) for p in many_products)
    # Cancellations: shipped again (not counted), then called back.
    again = []
    for products in (warm, warm, few_products, many_products):
        response = await counted.client.post(
            url, json=shipment_body(counted, to, products), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
        again.append(response.json()["id"])
    for shipment_id in again[:2]:
        canceled = await counted.client.post(f"{url}/{shipment_id}/cancel", headers=counted.clerk)
        assert canceled.status_code == 200, canceled.text
    back_small, few = await counted.trips("POST", f"{url}/{again[2]}/cancel")
    back_large, many = await counted.trips("POST", f"{url}/{again[3]}/cancel")
    assert (back_small.status_code, back_large.status_code) == (200, 200), back_large.text
    assert len(few) == len(many) == CANCEL_TRIPS, many
    assert back_large.json()["status"] == "canceled"
    at_source = await levels_at(counted, counted.location)
    # 20, less the 4 shipped and received, less the 4 shipped again and called back.
    assert all(at_source[p["id"]] == (16, 0) for p in many_products)
    at_destination = await levels_at(counted, to)
    assert all(at_destination[p["id"]] == (3, 0) for p in many_products)


@pytest.mark.slow
async def test_a_count_that_shrinks_reservations_costs_the_same_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/counts"
    held: dict[str, list[str]] = {}  # product id -> its reservations, oldest first

    async def holding(n: int) -> list[Item]:
        products = await stocked_products(counted, n)  # 20 on hand each
        for product in products:
            for quantity in (6, 5):  # 11 reserved: the newest is cut first
                response = await counted.client.post(
                    f"{API}/stock/reservations",
                    json={
                        "product_id": product["id"],
                        "location_id": counted.location["id"],
                        "quantity": quantity,
                    },
                    headers=counted.clerk,
                )
                assert response.status_code == 201, response.text
                held.setdefault(product["id"], []).append(response.json()["id"])
        return products

    warm, few_products, many_products = await holding(2), await holding(3), await holding(30)
    for quantity in (9, 8):
        response = await counted.client.post(
            url, json=count_body(counted, warm, quantity), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
    small, few = await counted.trips("POST", url, json=count_body(counted, few_products, 8))
    large, many = await counted.trips("POST", url, json=count_body(counted, many_products, 4))
    assert (small.status_code, large.status_code) == (201, 201), large.text
    # And the overdue reservations freed (none here), the holding ones read, and shortened.
    assert len(few) == len(many) == COUNT_TRIPS + 3, many
    # 8 counted of 11 reserved: the newest (5) shrinks to 2; 4 counted: the newest is
    # released and the oldest (6) shrinks to 4. Line order, each level's newest first.
    assert [
        (r["id"], r["remaining"], r["status"]) for r in small.json()["reservations_shortened"]
    ] == [(held[p["id"]][1], 2, "active") for p in few_products]
    assert [
        (r["id"], r["remaining"], r["status"]) for r in large.json()["reservations_shortened"]
    ] == [
        entry
        for p in many_products
        for entry in ((held[p["id"]][1], 0, "released"), (held[p["id"]][0], 4, "active"))
    ]
    levels = await counted.client.get(
        f"{API}/stock/levels",
        params={
            "location_id": counted.location["id"],
            "product_id": [p["id"] for p in many_products],
            "limit": 100,
        },
        headers=counted.clerk,
    )
    figures = {(i["on_hand"], i["reserved"], i["available"]) for i in levels.json()["items"]}
    assert (figures, len(levels.json()["items"])) == ({(4, 4, 0)}, 30)
