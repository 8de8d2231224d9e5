"""List filters: each list reads one filter model from the query string (src/schemas/filters.py).

Clients see no model: the OpenAPI document lists every filter as its own query parameter,
and a bad value is a 422 that names that parameter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

Headers = dict[str, str]
PAGING = ["limit", "cursor"]
UUID = {"anyOf": [{"format": "uuid", "type": "string"}, {"type": "null"}]}
TIME = {"anyOf": [{"format": "date-time", "type": "string"}, {"type": "null"}]}
FLAG = {"anyOf": [{"type": "boolean"}, {"type": "null"}]}
SEARCH = {
    "anyOf": [{"maxLength": 200, "pattern": "^[^\\u0000]*$", "type": "string"}, {"type": "null"}]
}

# Each list's query parameters, in the order the document lists them, with their schemas.
LISTS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/stock/movements": {
        "product_id": UUID,
        "location_id": UUID,
        "kind": {"anyOf": [{"$ref": "#/components/schemas/MovementKind"}, {"type": "null"}]},
        "since": TIME,
        "until": TIME,
        "transfer_id": UUID,
        "count_id": UUID,
    },
    "/api/v1/stock/levels": {
        "product_id": UUID,
        "location_id": UUID,
        "below_reorder": {"type": "boolean", "default": False},
        "as_of": TIME,
    },
    "/api/v1/products": {
        "q": SEARCH,
        "is_archived": FLAG,
        "sort": {
            "type": "string",
            "enum": ["name", "-name", "sku", "-sku", "created_at", "-created_at"],
            "default": "created_at",
        },
    },
    "/api/v1/locations": {"is_archived": FLAG},
    "/api/v1/users": {
        "role": {"anyOf": [{"$ref": "#/components/schemas/Role"}, {"type": "null"}]},
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
    search = spec["paths"]["/api/v1/products"]["get"]["parameters"][0]
    assert search["description"] == "sku or name contains"
    # The filter models themselves are not part of the published contract.
    assert not [name for name in spec["components"]["schemas"] if name.endswith("Filter")]


BAD_VALUES = [
    ("/api/v1/stock/movements", "kind", "teleport"),
    ("/api/v1/stock/movements", "until", "2026-01-01T00:00:00"),
    ("/api/v1/stock/levels", "below_reorder", "perhaps"),
    ("/api/v1/stock/levels", "location_id", "x"),
    ("/api/v1/products", "sort", "price"),
    ("/api/v1/products", "q", "x" * 201),
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
    assert [e["loc"] for e in response.json()["errors"]] == [["query", name]]


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
