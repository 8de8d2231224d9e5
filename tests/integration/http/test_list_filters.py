"""List filters: each list reads one filter model from the query string (src/schemas/filter.py).

Clients see no model: the OpenAPI document lists every filter as its own query parameter,
and a bad value is a 422 that names that parameter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from src.schemas.catalog import GTIN_PATTERN, Code
from src.schemas.filter import LEVEL_EXPANSIONS_PATTERN
from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, post_movement, receive

CODE_PATTERN = TypeAdapter(Code).json_schema()["pattern"]  # as ProductCreate.sku
PAGING = ["limit", "cursor"]
IDS = {
    "type": "array",
    "items": {"type": "string", "format": "uuid"},
    "maxItems": 100,
    "default": [],
}
# A query parameter is never null: an optional one is typed by its value and left out.
TIME = {"format": "date-time", "type": "string"}
FLAG = {"type": "boolean"}
CODE = {"pattern": CODE_PATTERN, "type": "string"}
SEARCH = {"maxLength": 200, "pattern": "^[^\\u0000]*$", "type": "string"}

# Each list's query parameters, in the order the document lists them, with their schemas.
LISTS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/stock/movements": {
        "product_id": IDS,
        "location_id": IDS,
        "kind": {"$ref": "#/components/schemas/MovementKind"},
        "since": TIME,
        "until": TIME,
        "transfer_id": IDS,
        "count_id": IDS,
        "batch_id": IDS,
        "reference": SEARCH,
    },
    "/api/v1/stock/levels": {
        "product_id": IDS,
        "location_id": IDS,
        "below_reorder": {"type": "boolean", "default": False},
        "as_of": TIME,
        "expand": {
            "type": "array",
            "items": {"type": "string", "maxLength": 100, "pattern": LEVEL_EXPANSIONS_PATTERN},
            "maxItems": 2,
            "default": [],
        },
    },
    "/api/v1/products": {
        "sku": CODE,
        "barcode": {"pattern": GTIN_PATTERN, "type": "string", "examples": ["4006381333931"]},
        "q": SEARCH,
        "is_archived": FLAG,
        "low_stock": FLAG,
        "sort": {
            "type": "string",
            "enum": ["name", "-name", "sku", "-sku", "created_at", "-created_at"],
            "default": "created_at",
        },
    },
    "/api/v1/locations": {"code": CODE, "is_archived": FLAG},
    "/api/v1/users": {
        "role": {"$ref": "#/components/schemas/Role"},
        "is_active": FLAG,
        "q": SEARCH,
    },
}


async def test_every_filter_is_documented_as_its_own_query_parameter(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    for path, filters in LISTS.items():
        parameters = spec["paths"][path]["get"]["parameters"]
        assert [p["name"] for p in parameters] == [*filters, *PAGING], path
        for parameter in parameters[: len(filters)]:
            assert parameter["in"] == "query"
            assert parameter["required"] is False
            schema = parameter["schema"]
            shape = {k: v for k, v in schema.items() if k not in {"title", "description"}}
            assert shape == filters[parameter["name"]], (path, parameter)
            assert parameter.get("description") == schema.get("description"), (path, parameter)
    search = spec["paths"]["/api/v1/products"]["get"]["parameters"][2]
    assert search["description"] == "sku, name or a barcode contains (ignoring case and accents)"
    # The filter models themselves are not part of the published contract.
    assert not [name for name in spec["components"]["schemas"] if name.endswith("Filter")]


BAD_VALUES = [
    ("/api/v1/stock/movements", "kind", "teleport"),
    ("/api/v1/stock/movements", "until", "2026-01-01T00:00:00"),
    ("/api/v1/stock/levels", "below_reorder", "perhaps"),
    ("/api/v1/stock/levels", "location_id", "x"),
    ("/api/v1/stock/levels", "expand", "supplier"),
    ("/api/v1/products", "sort", "price"),
    ("/api/v1/products", "low_stock", "maybe"),
    ("/api/v1/products", "q", "x" * 201),
    ("/api/v1/products", "barcode", "4006381333932"),
    ("/api/v1/locations", "is_archived", "2"),
    ("/api/v1/users", "role", "owner"),
    ("/api/v1/users", "q", "a\x00b"),
]


@pytest.mark.parametrize(("path", "name", "value"), BAD_VALUES)
async def test_a_bad_filter_is_422_naming_its_query_parameter(
    client: httpx.AsyncClient, admin_headers: Headers, path: str, name: str, value: str
) -> None:
    response = await client.get(path, params={name: value}, headers=admin_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    # An id list names the parameter and the value's position in it.
    assert [e["loc"][:2] for e in response.json()["errors"]] == [["query", name]]


async def test_filters_still_apply_with_paging(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    for code in ("FLT-A", "FLT-B", "FLT-C"):
        created = await client.post(
            "/api/v1/locations", json={"code": code, "name": code}, headers=admin_headers
        )
        assert created.status_code == 201
    archived = created.json()["id"]
    assert (
        await client.delete(f"/api/v1/locations/{archived}", headers=admin_headers)
    ).status_code == 204

    async def codes(**params: str) -> list[str]:
        response = await client.get("/api/v1/locations", params=params, headers=admin_headers)
        assert response.status_code == 200
        return [loc["code"] for loc in response.json()["items"] if loc["code"].startswith("FLT-")]

    assert await codes(is_archived="true") == ["FLT-C"]
    assert await codes(is_archived="false", limit="100") == ["FLT-A", "FLT-B"]
    assert await codes() == ["FLT-A", "FLT-B", "FLT-C"]


FUTURE = "2999-01-01T00:00:00Z"


async def test_levels_as_of_apply_every_filter_and_page(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers, reorder_point=5)
    other = await new_product(client, manager_headers)
    a, b = await new_location(client, manager_headers), await new_location(client, manager_headers)
    first = await receive(client, clerk_headers, product, a, 10)
    await receive(client, clerk_headers, product, b, 7)
    await receive(client, clerk_headers, other, a, 1)
    issued = await post_movement(client, clerk_headers, product, a, "issue", 8)
    assert issued.status_code == 201
    mine = {product["id"], other["id"]}

    async def levels(**params: str) -> dict[tuple[str, str], int]:
        response = await client.get("/api/v1/stock/levels", params=params, headers=clerk_headers)
        assert response.status_code == 200, response.text
        return {
            (lvl["product_id"], lvl["location_id"]): lvl["on_hand"]
            for lvl in response.json()["items"]
            if lvl["product_id"] in mine
        }

    pa, pb, oa = (product["id"], a["id"]), (product["id"], b["id"]), (other["id"], a["id"])
    # At the first receipt (inclusive) only it had happened; now, the ledger sums to the levels.
    assert await levels(as_of=first["created_at"], product_id=product["id"]) == {pa: 10}
    assert await levels(as_of=FUTURE, product_id=product["id"]) == {pa: 2, pb: 7}
    assert await levels(as_of=FUTURE, location_id=a["id"]) == {pa: 2, oa: 1}
    assert await levels(as_of=FUTURE) == await levels() == {pa: 2, pb: 7, oa: 1}
    # Below the reorder point (5): only product at a, and only after the issue.
    assert await levels(as_of=FUTURE, below_reorder="true", product_id=product["id"]) == {pa: 2}
    assert await levels(as_of=first["created_at"], below_reorder="true") == {}

    pages: list[dict[tuple[str, str], int]] = []
    params = {"as_of": FUTURE, "location_id": a["id"], "limit": "1"}
    while True:
        response = await client.get("/api/v1/stock/levels", params=params, headers=clerk_headers)
        assert response.status_code == 200
        body = response.json()
        pages.append({(i["product_id"], i["location_id"]): i["on_hand"] for i in body["items"]})
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert [len(page) for page in pages] == [1, 1]
    assert pages[0] | pages[1] == {pa: 2, oa: 1}
