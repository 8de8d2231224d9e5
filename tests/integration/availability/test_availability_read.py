"""`GET /stock/availability`: a shop page's products, by id or SKU, in the asked order, with
totals and per-location figures over active, non-transit locations."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from src.core.scopes import Scope
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers
from tests.support.stock import (
    API,
    Item,
    Stocked,
    new_location,
    new_product,
    post_movement,
    receive,
    reserve,
    ship,
)

URL = f"{API}/stock/availability"


async def _ask(
    client: httpx.AsyncClient, headers: Headers, params: list[tuple[str, str]]
) -> httpx.Response:
    return await client.get(URL, params=params, headers=headers)


async def _items(
    client: httpx.AsyncClient, headers: Headers, params: list[tuple[str, str]]
) -> list[Any]:
    response = await _ask(client, headers, params)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def _totals(item: Item) -> tuple[int, int, int, int]:
    return item["on_hand"], item["reserved"], item["available"], item["incoming"]


async def test_by_id_and_sku_in_the_asked_order_with_zeros_for_no_stock(
    client: httpx.AsyncClient, manager_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    empty = await new_product(client, manager_headers)
    other = await new_product(client, manager_headers)
    items = await _items(
        client,
        viewer_headers,
        [
            ("product_id", empty["id"]),
            ("product_id", product["id"]),
            ("sku", other["sku"].lower()),  # SKUs are matched case-insensitively
            ("sku", product["sku"]),
        ],
    )
    assert [(i["product_id"], i["sku"]) for i in items] == [
        (empty["id"], empty["sku"]),
        (product["id"], product["sku"]),
        (other["id"], other["sku"]),
        (product["id"], product["sku"]),
    ]
    assert _totals(items[0]) == (0, 0, 0, 0)
    assert items[0]["locations"] == []
    assert _totals(items[1]) == (10, 0, 10, 0)
    assert items[1]["locations"] == [
        {
            "location_id": a["id"],
            "code": a["code"],
            "on_hand": 10,
            "reserved": 0,
            "available": 10,
            "incoming": 0,
        }
    ]
    assert items[3] == items[1]  # asked twice: answered twice
    by_sku = await _items(client, viewer_headers, [("sku", product["sku"])])
    assert by_sku == [items[1]]


async def test_reserved_and_incoming_show_and_transit_is_left_out(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    assert (await reserve(client, clerk_headers, product, a, 3)).status_code == 201
    assert (await ship(client, clerk_headers, a, b, (product, 2))).status_code == 201
    (item,) = await _items(client, clerk_headers, [("product_id", product["id"])])
    # 2 left `a` for the transit location, which is not counted: they show as incoming at b.
    assert _totals(item) == (8, 3, 5, 2)
    figures = {loc["location_id"]: _totals(loc) for loc in item["locations"]}
    assert figures == {a["id"]: (8, 3, 5, 0), b["id"]: (0, 0, 0, 2)}
    assert [loc["code"] for loc in item["locations"]] == sorted(
        loc["code"] for loc in item["locations"]
    )


async def test_archived_locations_are_left_out_and_location_id_restricts(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    stocked: Stocked,
) -> None:
    product, a, _ = stocked
    gone = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, gone, 2)
    issued = await post_movement(client, clerk_headers, product, gone, "issue", 2)
    assert issued.status_code == 201, issued.text
    assert (
        await client.delete(f"{API}/locations/{gone['id']}", headers=manager_headers)
    ).status_code == 204
    c = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, c, 4)
    (item,) = await _items(client, clerk_headers, [("product_id", product["id"])])
    assert {loc["location_id"] for loc in item["locations"]} == {a["id"], c["id"]}
    assert item["on_hand"] == 14
    (only_c,) = await _items(
        client, clerk_headers, [("product_id", product["id"]), ("location_id", c["id"])]
    )
    assert [loc["location_id"] for loc in only_c["locations"]] == [c["id"]]
    assert _totals(only_c) == (4, 0, 4, 0)


async def test_archived_products_are_still_answered(
    client: httpx.AsyncClient, manager_headers: Headers, viewer_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    archived = await client.delete(f"{API}/products/{product['id']}", headers=manager_headers)
    assert archived.status_code == 204, archived.text
    (item,) = await _items(client, viewer_headers, [("sku", product["sku"])])
    assert (item["product_id"], _totals(item)) == (product["id"], (0, 0, 0, 0))


async def test_unknown_products_are_404_naming_them(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked
) -> None:
    product = stocked[0]
    missing = str(uuid.uuid4())
    response = await _ask(
        client, viewer_headers, [("product_id", product["id"]), ("product_id", missing)]
    )
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "/problems/not-found"
    assert missing in response.json()["detail"]
    response = await _ask(client, viewer_headers, [("sku", "NO-SUCH-SKU-X")])
    assert response.status_code == 404
    assert "NO-SUCH-SKU-X" in response.json()["detail"]


async def test_bad_requests_are_422(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked
) -> None:
    product = stocked[0]
    too_many = [("product_id", str(uuid.uuid4())) for _ in range(100)] + [("sku", product["sku"])]
    for params in (
        [],
        [("location_id", str(uuid.uuid4()))],
        [("product_id", "not-a-uuid")],
        too_many,
        [("product_id", product["id"]), ("location_id", "nope")],
    ):
        response = await _ask(client, viewer_headers, params)
        assert response.status_code == 422, (params[:2], response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_parameters_and_paging_are_422_naming_them(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked
) -> None:
    product = stocked[0]
    for name in ("colour", "limit", "cursor"):
        response = await _ask(client, viewer_headers, [("product_id", product["id"]), (name, "5")])
        assert response.status_code == 422, (name, response.text)
        assert [e["loc"] for e in response.json()["errors"]] == [["query", name]]


async def test_needs_a_token_with_stock_read(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    stocked: Stocked,
) -> None:
    params = [("product_id", stocked[0]["id"])]
    assert (await _ask(client, {}, params)).status_code == 401
    catalog_only = await make_api_client(scopes=[Scope.CATALOG_READ])
    refused = await _ask(client, client_headers(catalog_only), params)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "/problems/insufficient-scope"
    shop = await make_api_client(scopes=[Scope.STOCK_READ])
    (item,) = await _items(client, client_headers(shop), params)
    assert item["on_hand"] == 10
