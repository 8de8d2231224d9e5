"""`GET /products?low_stock=`: products whose stock across every location is below their
reorder point, never-stocked ones included (unlike the per-level `below_reorder` filter)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, post_movement, receive

URL = "/api/v1/products"


def _tag() -> str:
    return uuid.uuid4().hex[:8].upper()


async def skus(client: httpx.AsyncClient, headers: Headers, **params: str) -> set[str]:
    response = await client.get(URL, params={"limit": "100", **params}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return {p["sku"] for p in response.json()["items"]}


async def test_low_stock_sums_every_location_and_counts_never_stocked_products(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    tag = _tag()
    a, b = await new_location(client, manager_headers), await new_location(client, manager_headers)

    async def product(name: str, reorder_point: int, at_a: int = 0, at_b: int = 0) -> Any:
        made = await new_product(
            client, manager_headers, sku=f"{tag}-{name}", reorder_point=reorder_point
        )
        for location, quantity in ((a, at_a), (b, at_b)):
            if quantity:
                await receive(client, clerk_headers, made, location, quantity)
        return made

    await product("BELOW", 10, at_a=3, at_b=4)  # 7 in all
    above = await product("ABOVE", 10, at_a=6, at_b=5)  # 11 in all, each level below 10
    await product("EQUAL", 10, at_a=4, at_b=6)  # 10: not below
    await product("NEVER5", 5)  # never stocked: 0 < 5
    await product("NEVER0", 0)  # never stocked, but 0 is not below 0

    low = {f"{tag}-BELOW", f"{tag}-NEVER5"}
    enough = {f"{tag}-ABOVE", f"{tag}-EQUAL", f"{tag}-NEVER0"}
    assert await skus(client, clerk_headers, q=tag, low_stock="true") == low
    assert await skus(client, clerk_headers, q=tag, low_stock="false") == enough
    assert await skus(client, clerk_headers, q=tag) == low | enough

    # The per-level filter sees each location on its own: both of ABOVE's levels are below 10.
    levels = await client.get(
        "/api/v1/stock/levels",
        params={"product_id": above["id"], "below_reorder": "true"},
        headers=clerk_headers,
    )
    assert levels.status_code == 200
    assert {lvl["location_id"] for lvl in levels.json()["items"]} == {a["id"], b["id"]}

    # An issue takes ABOVE to 9 in all: now it is low.
    issued = await post_movement(client, clerk_headers, above, a, "issue", 2)
    assert issued.status_code == 201
    assert await skus(client, clerk_headers, q=tag, low_stock="true") == low | {f"{tag}-ABOVE"}
    # Raising the reorder point of NEVER0 makes it low too.
    never0 = (await client.get(URL, params={"sku": f"{tag}-NEVER0"}, headers=clerk_headers)).json()
    patched = await client.patch(
        f"{URL}/{never0['items'][0]['id']}",
        json={"reorder_point": 1},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert patched.status_code == 200
    assert f"{tag}-NEVER0" in await skus(client, clerk_headers, q=tag, low_stock="true")


async def test_low_stock_combines_with_the_other_filters(
    client: httpx.AsyncClient, manager_headers: Headers, viewer_headers: Headers
) -> None:
    tag = _tag()
    kept = await new_product(client, manager_headers, sku=f"{tag}-KEPT", reorder_point=3)
    gone = await new_product(client, manager_headers, sku=f"{tag}-GONE", reorder_point=3)
    other = await new_product(client, manager_headers, sku=f"OTHER-{_tag()}", reorder_point=3)
    archived = await client.delete(f"{URL}/{gone['id']}", headers=manager_headers)
    assert archived.status_code == 204

    # An archived product keeps its status; is_archived=false leaves it out.
    assert await skus(client, viewer_headers, q=tag, low_stock="true") == {kept["sku"], gone["sku"]}
    assert await skus(client, viewer_headers, q=tag, low_stock="true", is_archived="false") == {
        kept["sku"]
    }
    assert await skus(client, viewer_headers, sku=other["sku"], low_stock="true") == {other["sku"]}
    assert await skus(client, viewer_headers, sku=other["sku"], low_stock="false") == set()


@pytest.mark.parametrize("sort", ["created_at", "-name", "sku"])
async def test_low_stock_pages_never_skip_or_repeat(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    viewer_headers: Headers,
    sort: str,
) -> None:
    tag = _tag()
    location = await new_location(client, manager_headers)
    expected: list[dict[str, Any]] = []
    # Low and stocked-enough products interleaved, so each page skips some rows.
    for i in range(9):
        product = await new_product(
            client, manager_headers, sku=f"{tag}-{i}", name=f"N{(i * 5) % 9}", reorder_point=4
        )
        if i % 3 == 0:
            await receive(client, clerk_headers, product, location, 4)
        else:
            if i % 3 == 1:
                await receive(client, clerk_headers, product, location, 3)
            expected.append(product)

    seen: list[str] = []
    params = {"q": tag, "low_stock": "true", "sort": sort, "limit": "2"}
    pages = 0
    while True:
        response = await client.get(URL, params=params, headers=viewer_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [p["sku"] for p in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]

    key = sort.lstrip("-")
    ordered = sorted(expected, key=lambda p: (p[key], p["id"]), reverse=sort.startswith("-"))
    assert seen == [p["sku"] for p in ordered]
    assert pages == 3  # 6 low products, 2 a page; the third is full and says it is the last


async def test_low_stock_must_be_a_boolean(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.get(URL, params={"low_stock": "maybe"}, headers=viewer_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "low_stock"]]
    assert "maybe" not in response.text


async def test_low_stock_needs_authentication(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    await new_product(client, manager_headers, reorder_point=5)
    response = await client.get(URL, params={"low_stock": "true"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "items" not in response.json()
