"""A posting is one statement; why it posted nothing is read from what that statement
returned, in the order the checks always had: product, then location, then stock."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.factories import Headers
from tests.support.stock import API, Stocked, new_location, new_product, on_hand, post_movement


async def _ledger(client: httpx.AsyncClient, headers: Headers, product: dict[str, Any]) -> int:
    response = await client.get(
        f"{API}/stock/movements", params={"product_id": product["id"]}, headers=headers
    )
    return len(response.json()["items"])


async def test_each_reason_keeps_its_problem_and_posts_nothing(
    client: httpx.AsyncClient, stocked: Stocked, clerk_headers: Headers, manager_headers: Headers
) -> None:
    product, a, _ = stocked
    ghost = {"id": str(uuid.uuid4())}
    archived_product = await new_product(client, manager_headers)
    archived_location = await new_location(client, manager_headers)
    for item, path in ((archived_product, "products"), (archived_location, "locations")):
        gone = await client.delete(f"{API}/{path}/{item['id']}", headers=manager_headers)
        assert gone.status_code == 204, gone.text
    cases = [
        (ghost, ghost, "receipt", 404, "No product with this id"),
        (ghost, a, "issue", 404, "No product with this id"),
        (product, ghost, "receipt", 404, "No location with this id"),
        (archived_product, a, "receipt", 409, "The product is archived"),
        (archived_product, ghost, "receipt", 409, "The product is archived"),
        (product, archived_location, "receipt", 409, "The location is archived"),
        (product, a, "issue", 409, None),
    ]
    for item, location, kind, status, detail in cases:
        response = await post_movement(client, clerk_headers, item, location, kind, 11)
        assert response.status_code == status, (item, location, response.text)
        problem = response.json()
        if detail is not None:
            assert problem["detail"].startswith(detail), problem
        else:
            assert problem["type"].endswith("/insufficient-stock"), problem
            assert problem["available"] == 10
    assert await on_hand(client, clerk_headers, product, a) == 10
    assert await _ledger(client, clerk_headers, product) == 1


async def test_an_issue_of_all_that_is_on_hand_empties_the_level(
    client: httpx.AsyncClient, stocked: Stocked, clerk_headers: Headers
) -> None:
    product, a, b = stocked
    response = await post_movement(client, clerk_headers, product, a, "issue", 10)
    assert response.status_code == 201, response.text
    assert response.json()["balance_after"] == 0
    never_stocked = await post_movement(client, clerk_headers, product, b, "issue", 1)
    assert never_stocked.status_code == 409
    assert never_stocked.json()["available"] == 0
    assert await on_hand(client, clerk_headers, product, a) == 0
