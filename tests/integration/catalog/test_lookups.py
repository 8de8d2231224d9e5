"""What a scanner needs: exact lookups by SKU and location code."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product


async def test_sku_lookup_is_exact_and_ignores_case(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    wanted = await new_product(client, manager_headers, sku="SCAN-M8")
    await new_product(client, manager_headers, sku="SCAN-M8-LONG")
    await new_product(client, manager_headers, sku="XSCAN-M8")
    for sku in ("SCAN-M8", "scan-m8", "Scan-M8"):
        response = await client.get(
            "/api/v1/products", params={"sku": sku}, headers=manager_headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert [p["id"] for p in body["items"]] == [wanted["id"]]
        assert body["next_cursor"] is None


async def test_code_lookup_is_exact_and_ignores_case(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    wanted = await new_location(client, manager_headers, code="BIN-7")
    await new_location(client, manager_headers, code="BIN-77")
    await new_location(client, manager_headers, code="ABIN-7")
    response = await client.get(
        "/api/v1/locations", params={"code": "bin-7"}, headers=manager_headers
    )
    assert response.status_code == 200, response.text
    assert [loc["id"] for loc in response.json()["items"]] == [wanted["id"]]


@pytest.mark.parametrize(
    ("path", "name"), [("/api/v1/products", "sku"), ("/api/v1/locations", "code")]
)
async def test_an_unknown_code_is_an_empty_page(
    client: httpx.AsyncClient, manager_headers: Headers, path: str, name: str
) -> None:
    await new_product(client, manager_headers, sku="KNOWN-1")
    await new_location(client, manager_headers, code="KNOWN-1")
    response = await client.get(path, params={name: "KNOWN"}, headers=manager_headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("value", ["A" * 65, "BOLT M8", "BOLT/M8", "", "BOLT\x00"])
@pytest.mark.parametrize(
    ("path", "name"), [("/api/v1/products", "sku"), ("/api/v1/locations", "code")]
)
async def test_a_bad_code_is_422_naming_it(
    client: httpx.AsyncClient, manager_headers: Headers, path: str, name: str, value: str
) -> None:
    response = await client.get(path, params={name: value}, headers=manager_headers)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", name]]


async def test_lookup_combines_with_the_other_filters(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers, sku="GONE-1")
    deleted = await client.delete(f"/api/v1/products/{product['id']}", headers=manager_headers)
    assert deleted.status_code == 204
    found = await client.get(
        "/api/v1/products", params={"sku": "gone-1", "is_archived": "true"}, headers=manager_headers
    )
    assert [p["id"] for p in found.json()["items"]] == [product["id"]]
    hidden = await client.get(
        "/api/v1/products",
        params={"sku": "gone-1", "is_archived": "false"},
        headers=manager_headers,
    )
    assert hidden.json()["items"] == []
