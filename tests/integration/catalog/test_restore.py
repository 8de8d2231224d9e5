"""`POST /products/{id}/restore` and `POST /locations/{id}/restore`: archiving is undone,
with the same If-Match rules as the DELETE that archived."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import Maker, new_location, new_product, post_movement

KINDS = [
    pytest.param("/api/v1/products", new_product, id="products"),
    pytest.param("/api/v1/locations", new_location, id="locations"),
]


async def archived(
    client: httpx.AsyncClient, headers: Headers, url: str, make: Maker
) -> dict[str, Any]:
    item = await make(client, headers)
    assert (await client.delete(f"{url}/{item['id']}", headers=headers)).status_code == 204
    read = await client.get(f"{url}/{item['id']}", headers=headers)
    assert read.json()["is_archived"] is True
    assert read.headers["etag"] == '"v2"'
    body: dict[str, Any] = read.json()
    return body


async def assert_restored(
    client: httpx.AsyncClient, headers: Headers, url: str, item: dict[str, Any]
) -> None:
    response = await client.post(f"{url}/{item['id']}/restore", headers=headers)
    assert response.status_code == 200, response.text


async def active_ids(client: httpx.AsyncClient, url: str, headers: Headers) -> set[str]:
    listing = await client.get(url, params={"limit": 100, "is_archived": "false"}, headers=headers)
    assert listing.status_code == 200
    return {item["id"] for item in listing.json()["items"]}


@pytest.mark.parametrize(("url", "make"), KINDS)
async def test_restore_brings_an_archived_record_back(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker
) -> None:
    item = await archived(client, manager_headers, url, make)
    assert item["id"] not in await active_ids(client, url, manager_headers)

    restored = await client.post(f"{url}/{item['id']}/restore", headers=manager_headers)
    assert restored.status_code == 200, restored.text
    assert restored.headers["etag"] == '"v3"'
    body = restored.json()
    assert body["id"] == item["id"]
    assert body["is_archived"] is False
    assert body["version"] == 3

    read = await client.get(f"{url}/{item['id']}", headers=manager_headers)
    assert read.json() == body
    assert read.headers["etag"] == '"v3"'
    assert item["id"] in await active_ids(client, url, manager_headers)


@pytest.mark.parametrize(("url", "make"), KINDS)
async def test_restoring_an_active_record_changes_nothing(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    admin_headers: Headers,
    url: str,
    make: Maker,
) -> None:
    item = await make(client, manager_headers)
    for headers in (manager_headers, admin_headers, {**manager_headers, "If-Match": '"v1"'}):
        again = await client.post(f"{url}/{item['id']}/restore", headers=headers)
        assert again.status_code == 200
        assert again.headers["etag"] == '"v1"'
        assert again.json() == item  # same version, same updated_at


@pytest.mark.parametrize(("url", "make"), KINDS)
async def test_restore_honours_if_match(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker
) -> None:
    item = await archived(client, manager_headers, url, make)
    restore = f"{url}/{item['id']}/restore"
    for stale in ('"v1"', '"v99"', "garbage", '"2"'):
        refused = await client.post(restore, headers={**manager_headers, "If-Match": stale})
        assert refused.status_code == 412, stale
        assert refused.json()["type"] == "/problems/precondition-failed"
        assert refused.json()["current_etag"] == '"v2"'
    read = await client.get(f"{url}/{item['id']}", headers=manager_headers)
    assert read.json()["is_archived"] is True
    assert read.headers["etag"] == '"v2"'

    current = await client.post(restore, headers={**manager_headers, "If-Match": '"v2"'})
    assert current.status_code == 200
    assert current.headers["etag"] == '"v3"'
    assert current.json()["is_archived"] is False

    # "*" matches whatever version there is.
    other = await archived(client, manager_headers, url, make)
    starred = await client.post(
        f"{url}/{other['id']}/restore", headers={**manager_headers, "If-Match": "*"}
    )
    assert starred.status_code == 200
    assert starred.json()["is_archived"] is False


@pytest.mark.parametrize(("url", "make"), KINDS)
async def test_restore_needs_a_manager(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    viewer_headers: Headers,
    url: str,
    make: Maker,
) -> None:
    item = await archived(client, manager_headers, url, make)
    restore = f"{url}/{item['id']}/restore"
    anonymous = await client.post(restore)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    for headers in (clerk_headers, viewer_headers):
        forbidden = await client.post(restore, headers={**headers, "If-Match": "*"})
        assert forbidden.status_code == 403
        assert forbidden.json()["type"] == "/problems/forbidden"
    read = await client.get(f"{url}/{item['id']}", headers=manager_headers)
    assert read.json()["is_archived"] is True
    assert read.headers["etag"] == '"v2"'


@pytest.mark.parametrize(("url", "make"), KINDS)
async def test_restore_unknown_or_bad_id(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker
) -> None:
    missing = await client.post(f"{url}/{uuid.uuid4()}/restore", headers=manager_headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"
    stale_missing = await client.post(
        f"{url}/{uuid.uuid4()}/restore", headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert stale_missing.status_code == 404
    bad = await client.post(f"{url}/not-a-uuid/restore", headers=manager_headers)
    assert bad.status_code == 422
    assert "etag" not in bad.headers


async def test_postings_are_refused_while_archived_and_accepted_after_restore(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await archived(client, manager_headers, "/api/v1/products", new_product)
    location = await archived(client, manager_headers, "/api/v1/locations", new_location)

    refused = await post_movement(client, clerk_headers, product, location, "receipt", 5)
    assert refused.status_code == 409
    assert "archived" in refused.json()["detail"]

    await assert_restored(client, manager_headers, "/api/v1/products", product)
    # The location is still archived: still refused, now naming the location.
    still = await post_movement(client, clerk_headers, product, location, "receipt", 5)
    assert still.status_code == 409
    assert "location is archived" in still.json()["detail"]

    await assert_restored(client, manager_headers, "/api/v1/locations", location)
    accepted = await post_movement(client, clerk_headers, product, location, "receipt", 5)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["balance_after"] == 5
    stock = await client.get(f"/api/v1/products/{product['id']}/stock", headers=clerk_headers)
    assert stock.json()["on_hand"] == 5

    # Holding stock again, it cannot be archived again until emptied: the DELETE rule stands.
    again = await client.delete(f"/api/v1/products/{product['id']}", headers=manager_headers)
    assert again.status_code == 409
