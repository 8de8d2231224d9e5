"""/products: catalog CRUD with ETag/If-Match, archive rules, search, sort and paging."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, receive

URL = "/api/v1/products"


async def test_create_product(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    response = await client.post(
        URL,
        json={
            "sku": "BOLT-M6",
            "name": " Bolt M6 ",
            "unit": "each",
            "unit_price": "0.5",
            "reorder_point": 100,
            "description": "Zinc plated",
        },
        headers=manager_headers,
    )
    assert response.status_code == 201
    product = response.json()
    assert response.headers["location"] == f"{URL}/{product['id']}"
    assert response.headers["etag"] == '"v1"'
    assert product["unit_price"] == "0.50"
    assert product["name"] == "Bolt M6"
    assert product["is_archived"] is False
    assert set(product) == {
        "id",
        "sku",
        "name",
        "description",
        "unit",
        "unit_price",
        "reorder_point",
        "barcodes",
        "is_archived",
        "version",
        "created_at",
        "updated_at",
    }
    assert product["barcodes"] == []  # always sent


@pytest.mark.parametrize(
    "bad",
    [
        {"sku": "has space"},
        {"sku": ""},
        {"sku": "x" * 65},
        {"name": ""},
        {"unit_price": "1.234"},
        {"unit_price": "-1"},
        {"unit_price": "abc"},
        {"reorder_point": -1},
        {"reorder_point": 1.5},
        {"reorder_point": "3"},
        {"version": 7},
        {"is_archived": True},
    ],
)
async def test_create_rejects_bad_input(
    client: httpx.AsyncClient, manager_headers: Headers, bad: dict[str, object]
) -> None:
    body = {"sku": f"S-{uuid.uuid4().hex[:6]}", "name": "N", **bad}
    response = await client.post(URL, json=body, headers=manager_headers)
    assert response.status_code == 422, bad
    assert response.json()["type"] == "/problems/validation-error"


async def test_sku_is_unique_case_insensitively(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    await new_product(client, manager_headers, sku="DUP-1")
    response = await client.post(URL, json={"sku": "dup-1", "name": "x"}, headers=manager_headers)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/duplicate"
    assert response.json()["field"] == "sku"


async def test_writes_need_a_manager(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers
) -> None:
    assert (await client.post(URL, json={"sku": "A", "name": "B"})).status_code == 401
    response = await client.post(URL, json={"sku": "A", "name": "B"}, headers=clerk_headers)
    assert response.status_code == 403
    product = await new_product(client, manager_headers)
    patch = await client.patch(
        f"{URL}/{product['id']}",
        json={"name": "x"},
        headers={**clerk_headers, "If-Match": '"v1"'},
    )
    assert patch.status_code == 403
    assert (await client.delete(f"{URL}/{product['id']}", headers=clerk_headers)).status_code == 403


async def test_read_product_with_etag(
    client: httpx.AsyncClient, manager_headers: Headers, viewer_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    response = await client.get(f"{URL}/{product['id']}", headers=viewer_headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"v1"'
    assert response.json() == product


async def test_read_unknown_or_bad_id(client: httpx.AsyncClient, viewer_headers: Headers) -> None:
    assert (await client.get(f"{URL}/{uuid.uuid4()}", headers=viewer_headers)).status_code == 404
    assert (await client.get(f"{URL}/nope", headers=viewer_headers)).status_code == 422
    assert (await client.get(f"{URL}/{uuid.uuid4()}")).status_code == 401


async def test_patch_needs_if_match(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    product = await new_product(client, manager_headers)
    missing = await client.patch(
        f"{URL}/{product['id']}", json={"name": "New"}, headers=manager_headers
    )
    assert missing.status_code == 428
    assert missing.json()["type"] == "/problems/precondition-required"

    ok = await client.patch(
        f"{URL}/{product['id']}",
        json={"name": "New"},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"v2"'
    assert ok.json()["name"] == "New"

    stale = await client.patch(
        f"{URL}/{product['id']}",
        json={"name": "Newer"},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/precondition-failed"
    assert (await client.get(f"{URL}/{product['id']}", headers=manager_headers)).json()[
        "name"
    ] == "New"


async def test_patch_with_star_and_lists(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    star = await client.patch(
        f"{URL}/{product['id']}", json={"unit": "box"}, headers={**manager_headers, "If-Match": "*"}
    )
    assert star.status_code == 200
    listed = await client.patch(
        f"{URL}/{product['id']}",
        json={"unit": "kg"},
        headers={**manager_headers, "If-Match": '"v9", "v2"'},
    )
    assert listed.status_code == 200
    assert listed.headers["etag"] == '"v3"'
    garbage = await client.patch(
        f"{URL}/{product['id']}",
        json={"unit": "g"},
        headers={**manager_headers, "If-Match": "W/whatever"},
    )
    assert garbage.status_code == 412


@pytest.mark.parametrize(
    "bad", [{"sku": None}, {"name": None}, {"reorder_point": -3}, {"id": "x"}, {"sku": "a b"}]
)
async def test_patch_rejects_bad_input(
    client: httpx.AsyncClient, manager_headers: Headers, bad: dict[str, object]
) -> None:
    product = await new_product(client, manager_headers)
    response = await client.patch(
        f"{URL}/{product['id']}", json=bad, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert response.status_code == 422


async def test_patch_clears_nullable_fields_and_keeps_version_when_unchanged(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers, unit_price="3.00", description="d")
    cleared = await client.patch(
        f"{URL}/{product['id']}",
        json={"unit_price": None, "description": None},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert cleared.json()["unit_price"] is None
    assert cleared.json()["description"] is None
    same = await client.patch(
        f"{URL}/{product['id']}",
        json={"unit_price": None},
        headers={**manager_headers, "If-Match": '"v2"'},
    )
    assert same.headers["etag"] == '"v2"'


async def test_patch_to_taken_sku_is_409(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    await new_product(client, manager_headers, sku="TAKEN-1")
    product = await new_product(client, manager_headers)
    response = await client.patch(
        f"{URL}/{product['id']}",
        json={"sku": "taken-1"},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/duplicate"


async def test_patch_unknown_is_404(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    response = await client.patch(
        f"{URL}/{uuid.uuid4()}", json={"name": "x"}, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert response.status_code == 404


async def test_archive_refused_while_stock_is_on_hand(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, location, 3)
    response = await client.delete(f"{URL}/{product['id']}", headers=manager_headers)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"
    assert (await client.get(f"{URL}/{product['id']}", headers=manager_headers)).json()[
        "is_archived"
    ] is False


async def test_archive_then_no_movements(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    assert (
        await client.delete(f"{URL}/{product['id']}", headers=manager_headers)
    ).status_code == 204
    again = await client.delete(f"{URL}/{product['id']}", headers=manager_headers)
    assert again.status_code == 204
    read = await client.get(f"{URL}/{product['id']}", headers=manager_headers)
    assert read.json()["is_archived"] is True
    assert read.headers["etag"] == '"v2"'
    response = await client.post(
        "/api/v1/stock/movements",
        json={
            "product_id": product["id"],
            "location_id": location["id"],
            "kind": "receipt",
            "quantity": 1,
        },
        headers=clerk_headers,
    )
    assert response.status_code == 409
    assert "archived" in response.json()["detail"]


async def test_archive_unknown_is_404(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    assert (
        await client.delete(f"{URL}/{uuid.uuid4()}", headers=manager_headers)
    ).status_code == 404
