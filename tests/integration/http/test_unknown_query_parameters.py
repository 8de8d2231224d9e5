"""A query parameter a list does not define is a 422 naming it, not silently ignored."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location
from tests.support.webhook_api import new_hook, send_test

# As the OpenAPI document writes them: a list under a record has its path parameter in braces,
# filled by `list_url` with a record made for the test.
LISTS = [
    "/api/v1/products",
    "/api/v1/locations",
    "/api/v1/users",
    "/api/v1/clients",
    "/api/v1/stock/movements",
    "/api/v1/stock/levels",
    "/api/v1/stock/reservations",
    "/api/v1/stock/allocations",
    "/api/v1/stock/shipments",
    "/api/v1/events",
    "/api/v1/webhooks",
    "/api/v1/webhooks/{webhook_id}/deliveries",
    "/api/v1/audit",
]
# The change feed pages by position (`after`), not by `cursor`.
PAGE_PARAMETER = {"/api/v1/events": "after"}


async def list_url(client: httpx.AsyncClient, admin_headers: Headers, path: str) -> str:
    """`path` with its path parameters filled: a webhook endpoint with two deliveries queued
    (so its deliveries list has a second page)."""
    if "{webhook_id}" in path:
        endpoint = await new_hook(client, admin_headers)
        for _ in range(2):
            await send_test(client, admin_headers, endpoint["id"])
        path = path.replace("{webhook_id}", endpoint["id"])
    assert "{" not in path, f"list_url cannot fill the path parameters of {path}"
    return path


@pytest.mark.parametrize("path", LISTS)
async def test_an_unknown_query_parameter_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: Headers, path: str
) -> None:
    url = await list_url(client, admin_headers, path)
    response = await client.get(url, params={"colour": "red"}, headers=admin_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["loc"] for e in errors] == [["query", "colour"]]
    assert "red" not in response.text  # problems never echo input values


async def test_sort_on_a_list_without_sorting_is_refused(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    await new_location(client, manager_headers)
    response = await client.get(
        "/api/v1/locations", params={"sort": "-created_at"}, headers=manager_headers
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "sort"]]


async def test_every_unknown_parameter_is_named_beside_bad_values(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get(
        "/api/v1/stock/movements",
        params={"kind": "teleport", "productid": "x", "page": "2", "limit": "5"},
        headers=admin_headers,
    )
    assert response.status_code == 422
    locs = sorted(tuple(e["loc"]) for e in response.json()["errors"])
    assert locs == [("query", "kind"), ("query", "page"), ("query", "productid")]


@pytest.mark.parametrize("path", LISTS)
async def test_paging_and_known_filters_are_still_accepted(
    client: httpx.AsyncClient, admin_headers: Headers, path: str
) -> None:
    url = await list_url(client, admin_headers, path)
    first = await client.get(url, params={"limit": "1"}, headers=admin_headers)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    if cursor is not None:
        following = await client.get(
            url,
            params={"limit": "1", PAGE_PARAMETER.get(path, "cursor"): cursor},
            headers=admin_headers,
        )
        assert following.status_code == 200, following.text


async def test_an_endpoint_that_defines_no_query_parameter_does_not_read_the_query(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    # Decided: only endpoints that take query parameters (the lists) check them; one that
    # takes none never reads its query string (a cache-buster such as ?_=1 is harmless).
    location = await new_location(client, manager_headers)
    me = await client.get("/api/v1/users/me", params={"x": "1"}, headers=manager_headers)
    assert me.status_code == 200
    one = await client.get(
        f"/api/v1/locations/{location['id']}", params={"_": "1"}, headers=manager_headers
    )
    assert one.status_code == 200
    assert one.json()["id"] == location["id"]


async def test_the_lists_are_every_endpoint_with_query_parameters(
    client: httpx.AsyncClient,
) -> None:
    # A new endpoint taking query parameters must join LISTS (and read a ListFilter). Event
    # streams are no lists: the movement stream's one query parameter is the stream ticket
    # (`?ticket=`); the feed's stream reads an EventStreamFilter beside `after` and `ticket`.
    # Availability is no list either (one page of asked products) but refuses unknown
    # parameters the same way (tests/integration/availability/test_availability_read.py).
    spec = (await client.get("/api/v1/openapi.json")).json()
    with_query = {
        path
        for path, operations in spec["paths"].items()
        for operation in operations.values()
        if any(p["in"] == "query" for p in operation.get("parameters", []))
    }
    assert with_query == {
        *LISTS,
        "/api/v1/stock/events",
        "/api/v1/events/stream",
        "/api/v1/stock/availability",
    }
    ticket = spec["paths"]["/api/v1/stock/events"]["get"]["parameters"]
    assert [p["name"] for p in ticket if p["in"] == "query"] == ["ticket"]
    feed = spec["paths"]["/api/v1/events/stream"]["get"]["parameters"]
    assert sorted(p["name"] for p in feed if p["in"] == "query") == ["after", "ticket", "types"]
