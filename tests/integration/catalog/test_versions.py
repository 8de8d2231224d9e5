"""Versions of products and locations as a grid uses them: `version` on every row (the number
in the ETag), conditional DELETE (If-Match) and conditional GET (If-None-Match → 304)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import Maker, new_location, new_product, receive

KINDS = [
    pytest.param("/api/v1/products", new_product, {"name": "Renamed"}, id="products"),
    pytest.param("/api/v1/locations", new_location, {"name": "Renamed"}, id="locations"),
]


def tag(version: int) -> str:
    return f'"v{version}"'


async def row(client: httpx.AsyncClient, url: str, item_id: str, headers: Headers) -> Any:
    listing = await client.get(url, params={"limit": 100}, headers=headers)
    assert listing.status_code == 200
    return next(item for item in listing.json()["items"] if item["id"] == item_id)


@pytest.mark.parametrize(("url", "make", "change"), KINDS)
async def test_list_rows_carry_the_version_of_their_etag(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker, change: Any
) -> None:
    item = await make(client, manager_headers)
    assert item["version"] == 1
    listed = await row(client, url, item["id"], manager_headers)
    assert listed["version"] == 1
    read = await client.get(f"{url}/{item['id']}", headers=manager_headers)
    assert read.headers["etag"] == tag(listed["version"])

    # A grid patches straight from its row, with no GET in between.
    patched = await client.patch(
        f"{url}/{item['id']}",
        json=change,
        headers={**manager_headers, "If-Match": tag(listed["version"])},
    )
    assert patched.status_code == 200
    assert patched.json()["version"] == 2
    assert patched.headers["etag"] == tag(2)
    assert (await row(client, url, item["id"], manager_headers))["version"] == 2


@pytest.mark.parametrize(("url", "make", "change"), KINDS)
async def test_a_stale_row_version_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker, change: Any
) -> None:
    item = await make(client, manager_headers)
    stale = (await row(client, url, item["id"], manager_headers))["version"]
    first = await client.patch(
        f"{url}/{item['id']}", json=change, headers={**manager_headers, "If-Match": tag(stale)}
    )
    assert first.status_code == 200

    second = await client.patch(
        f"{url}/{item['id']}",
        json={"name": "Overwritten"},
        headers={**manager_headers, "If-Match": tag(stale)},
    )
    assert second.status_code == 412
    assert second.json()["current_etag"] == tag(stale + 1)
    # The bare number is not an ETag: the row's version goes inside "v…".
    bare = await client.patch(
        f"{url}/{item['id']}",
        json={"name": "Overwritten"},
        headers={**manager_headers, "If-Match": f'"{stale + 1}"'},
    )
    assert bare.status_code == 412
    current = await row(client, url, item["id"], manager_headers)
    assert current["name"] == "Renamed"
    assert current["version"] == stale + 1


async def test_archiving_bumps_the_version_a_row_shows(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    product = await new_product(client, manager_headers)
    await receive(client, manager_headers, product, location, 1)
    refused = await client.delete(f"/api/v1/locations/{location['id']}", headers=manager_headers)
    assert refused.status_code == 409
    assert (await row(client, "/api/v1/locations", location["id"], manager_headers))["version"] == 1
    archived = await client.delete(f"/api/v1/products/{product['id']}", headers=manager_headers)
    assert archived.status_code == 409  # stock on hand: nothing changes
    empty = await new_product(client, manager_headers)
    assert (
        await client.delete(f"/api/v1/products/{empty['id']}", headers=manager_headers)
    ).status_code == 204
    listed = await row(client, "/api/v1/products", empty["id"], manager_headers)
    assert listed["version"] == 2
    assert listed["is_archived"] is True


async def is_archived(client: httpx.AsyncClient, url: str, item_id: str, headers: Headers) -> Any:
    read = await client.get(f"{url}/{item_id}", headers=headers)
    assert read.status_code == 200
    return read.json()["is_archived"]


@pytest.mark.parametrize(("url", "make", "change"), KINDS)
async def test_delete_with_the_current_etag_archives(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker, change: Any
) -> None:
    item = await make(client, manager_headers)
    deleted = await client.delete(
        f"{url}/{item['id']}", headers={**manager_headers, "If-Match": tag(item["version"])}
    )
    assert deleted.status_code == 204
    assert await is_archived(client, url, item["id"], manager_headers) is True
    # "*" matches whatever version there is; archiving again stays a 204.
    again = await client.delete(f"{url}/{item['id']}", headers={**manager_headers, "If-Match": "*"})
    assert again.status_code == 204
    # Without If-Match, DELETE archives as it always has.
    other = await make(client, manager_headers)
    assert (await client.delete(f"{url}/{other['id']}", headers=manager_headers)).status_code == 204
    assert await is_archived(client, url, other["id"], manager_headers) is True


@pytest.mark.parametrize(("url", "make", "change"), KINDS)
async def test_delete_with_a_stale_etag_is_412_and_archives_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker, change: Any
) -> None:
    item = await make(client, manager_headers)
    stale = tag(item["version"])
    patched = await client.patch(
        f"{url}/{item['id']}", json=change, headers={**manager_headers, "If-Match": stale}
    )
    assert patched.status_code == 200

    for if_match in (stale, '"v99"', "garbage", '"1"'):
        refused = await client.delete(
            f"{url}/{item['id']}", headers={**manager_headers, "If-Match": if_match}
        )
        assert refused.status_code == 412, if_match
        assert refused.json()["type"] == "/problems/precondition-failed"
        assert refused.json()["current_etag"] == patched.headers["etag"]
    current = await client.get(f"{url}/{item['id']}", headers=manager_headers)
    assert current.json()["is_archived"] is False
    assert current.headers["etag"] == patched.headers["etag"]


async def test_conditional_delete_checks_the_role_and_existence_first(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    url = f"/api/v1/products/{product['id']}"
    forbidden = await client.delete(url, headers={**clerk_headers, "If-Match": '"v1"'})
    assert forbidden.status_code == 403
    missing = await client.delete(
        "/api/v1/products/01900000-0000-7000-8000-000000000000",
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert missing.status_code == 404
    # A matching ETag does not lift the stock rule.
    location = await new_location(client, manager_headers)
    await receive(client, manager_headers, product, location, 2)
    holding = await client.delete(url, headers={**manager_headers, "If-Match": '"v1"'})
    assert holding.status_code == 409
    assert holding.json()["on_hand"] == 2
    assert await is_archived(client, "/api/v1/products", product["id"], manager_headers) is False


@pytest.mark.parametrize(("url", "make", "change"), KINDS)
async def test_if_none_match_on_the_current_etag_is_304_without_a_body(
    client: httpx.AsyncClient,
    viewer_headers: Headers,
    manager_headers: Headers,
    url: str,
    make: Maker,
    change: Any,
) -> None:
    item = await make(client, manager_headers)
    for header in ('"v1"', 'W/"v1"', '"v7", W/"v1"', "*"):
        response = await client.get(
            f"{url}/{item['id']}", headers={**viewer_headers, "If-None-Match": header}
        )
        assert response.status_code == 304, header
        assert response.headers["etag"] == '"v1"'
        assert response.content == b""
        assert "content-type" not in response.headers


@pytest.mark.parametrize(("url", "make", "change"), KINDS)
async def test_if_none_match_on_another_version_answers_the_resource(
    client: httpx.AsyncClient, manager_headers: Headers, url: str, make: Maker, change: Any
) -> None:
    item = await make(client, manager_headers)
    patched = await client.patch(
        f"{url}/{item['id']}", json=change, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert patched.status_code == 200
    for header in ('"v1"', "garbage", '"2"', 'W/"v3", "v1"'):
        response = await client.get(
            f"{url}/{item['id']}", headers={**manager_headers, "If-None-Match": header}
        )
        assert response.status_code == 200, header
        assert response.headers["etag"] == '"v2"'
        assert response.json()["name"] == "Renamed"
        assert response.json()["version"] == 2


async def test_if_none_match_does_not_bypass_authentication_or_existence(
    client: httpx.AsyncClient, viewer_headers: Headers, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    url = f"/api/v1/products/{product['id']}"
    anonymous = await client.get(url, headers={"If-None-Match": "*"})
    assert anonymous.status_code == 401
    assert "etag" not in anonymous.headers
    missing = await client.get(
        "/api/v1/locations/01900000-0000-7000-8000-000000000000",
        headers={**viewer_headers, "If-None-Match": "*"},
    )
    assert missing.status_code == 404
    # Lists send no ETag, so they ignore it.
    listing = await client.get("/api/v1/products", headers={**viewer_headers, "If-None-Match": "*"})
    assert listing.status_code == 200
