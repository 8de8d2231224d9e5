"""Property: any sequence of postings keeps every level equal to the sum of its ledger and
never negative, and the API refuses exactly the postings that would go below zero."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, post_movement

PRODUCTS, LOCATIONS = 2, 3

quantity = st.integers(min_value=1, max_value=15)
product_ix = st.integers(0, PRODUCTS - 1)
location_ix = st.integers(0, LOCATIONS - 1)
operation = st.one_of(
    st.tuples(st.just("receipt"), product_ix, location_ix, quantity),
    st.tuples(st.just("issue"), product_ix, location_ix, quantity),
    st.tuples(
        st.just("adjustment"),
        product_ix,
        location_ix,
        st.integers(-15, 15).filter(lambda q: q != 0),
    ),
    st.tuples(st.just("transfer"), product_ix, location_ix, location_ix, quantity).filter(
        lambda op: op[2] != op[3]
    ),
    st.tuples(
        st.just("count"),
        location_ix,
        st.dictionaries(product_ix, st.integers(0, 30), min_size=1, max_size=PRODUCTS),
    ),
)


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(operation, min_size=1, max_size=12))
async def test_any_sequence_keeps_levels_equal_to_the_ledger(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    admin_headers: Headers,
    operations: list[tuple[Any, ...]],
) -> None:
    products = [await new_product(client, manager_headers) for _ in range(PRODUCTS)]
    locations = [await new_location(client, manager_headers) for _ in range(LOCATIONS)]
    model: dict[tuple[int, int], int] = defaultdict(int)

    for op in operations:
        kind = op[0]
        if kind in {"receipt", "issue", "adjustment"}:
            _, p, loc, q = op
            delta = -q if kind == "issue" else q
            extra = {"reason": "correction"} if kind == "adjustment" else {}
            response = await post_movement(
                client, clerk_headers, products[p], locations[loc], kind, q, **extra
            )
            if model[(p, loc)] + delta < 0:
                assert response.status_code == 409, response.text
                assert response.json()["available"] == model[(p, loc)]
            else:
                assert response.status_code == 201, response.text
                model[(p, loc)] += delta
                assert response.json()["balance_after"] == model[(p, loc)]
        elif kind == "transfer":
            _, p, source, target, q = op
            response = await client.post(
                "/api/v1/stock/transfers",
                json={
                    "product_id": products[p]["id"],
                    "from_location_id": locations[source]["id"],
                    "to_location_id": locations[target]["id"],
                    "quantity": q,
                },
                headers=clerk_headers,
            )
            if model[(p, source)] < q:
                assert response.status_code == 409, response.text
            else:
                assert response.status_code == 201, response.text
                model[(p, source)] -= q
                model[(p, target)] += q
        else:
            _, loc, counted = op
            response = await client.post(
                "/api/v1/stock/counts",
                json={
                    "location_id": locations[loc]["id"],
                    "lines": [
                        {"product_id": products[p]["id"], "counted": c} for p, c in counted.items()
                    ],
                },
                headers=clerk_headers,
            )
            assert response.status_code == 201, response.text
            changed = {m["product_id"] for m in response.json()["movements"]}
            for p, c in counted.items():
                assert (products[p]["id"] in changed) == (model[(p, loc)] != c)
                model[(p, loc)] = c

    for p, product in enumerate(products):
        levels = await client.get(
            "/api/v1/stock/levels", params={"product_id": product["id"]}, headers=clerk_headers
        )
        actual = {lvl["location_id"]: lvl["on_hand"] for lvl in levels.json()["items"]}
        ledger: dict[str, int] = defaultdict(int)
        cursor = None
        while True:
            params = {
                "product_id": product["id"],
                "limit": 100,
                **({"cursor": cursor} if cursor else {}),
            }
            page = (
                await client.get("/api/v1/stock/movements", params=params, headers=clerk_headers)
            ).json()
            for movement in page["items"]:
                ledger[movement["location_id"]] += movement["quantity"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        for loc, location in enumerate(locations):
            expected = model[(p, loc)]
            assert actual.get(location["id"], 0) == expected
            assert ledger.get(location["id"], 0) == expected
            assert expected >= 0
    reconciliation = await client.get("/api/v1/stock/reconciliation", headers=admin_headers)
    assert reconciliation.json()["mismatches"] == []
