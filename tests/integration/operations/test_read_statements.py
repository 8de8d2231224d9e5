"""The hot reads run statements built once, over bound parameters: the same statement must
serve every value, list length and page of a filter combination, and answer as before."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from src.models.user import ActiveUser, Role
from src.repositories import base
from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, receive

API = "/api/v1"


async def _two_stocked(
    client: httpx.AsyncClient, manager: Headers, clerk: Headers
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Two products, stocked at the same location (3 receipts of one, 1 of the other)."""
    first = await new_product(client, manager)
    second = await new_product(client, manager)
    where = await new_location(client, manager)
    for quantity in (1, 2, 3):
        await receive(client, clerk, first, where, quantity)
    await receive(client, clerk, second, where, 7)
    return first, second, where


async def test_one_levels_statement_serves_any_number_of_products(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    first, second, where = await _two_stocked(client, manager_headers, clerk_headers)
    unknown = str(uuid.uuid4())
    # A list of one id binds as an equality, of several as one expanding IN: each shape is
    # one page query, whatever the ids and however many.
    for ids in ([first["id"]], [first["id"], unknown]):
        await client.get(
            f"{API}/stock/levels", params=[("product_id", i) for i in ids], headers=clerk_headers
        )
    cached = len(base._PAGE_QUERIES)
    one = await client.get(
        f"{API}/stock/levels", params={"product_id": first["id"]}, headers=clerk_headers
    )
    both = await client.get(
        f"{API}/stock/levels",
        params=[("product_id", first["id"]), ("product_id", second["id"]), ("product_id", unknown)],
        headers=clerk_headers,
    )
    assert len(base._PAGE_QUERIES) == cached  # same filters in use: the same page queries
    assert [(i["product_id"], i["on_hand"]) for i in one.json()["items"]] == [(first["id"], 6)]
    assert sorted((i["product_id"], i["on_hand"]) for i in both.json()["items"]) == sorted(
        [(first["id"], 6), (second["id"], 7)]
    )
    assert {i["location_id"] for i in both.json()["items"]} == {where["id"]}


async def test_ledger_pages_follow_the_cursor_with_bound_values(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    first, second, _ = await _two_stocked(client, manager_headers, clerk_headers)
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(4):
        params: dict[str, Any] = {"product_id": first["id"], "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(f"{API}/stock/movements", params=params, headers=clerk_headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert all(item["product_id"] == first["id"] for item in body["items"])
        seen += [item["quantity"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [3, 2, 1]  # newest first, each once, none of the other product's
    other = await client.get(
        f"{API}/stock/movements", params={"product_id": second["id"]}, headers=clerk_headers
    )
    assert [item["quantity"] for item in other.json()["items"]] == [7]


async def test_a_bad_cursor_is_still_refused(
    client: httpx.AsyncClient, clerk_headers: Headers
) -> None:
    response = await client.get(
        f"{API}/stock/movements",
        params={"product_id": str(uuid.uuid4()), "cursor": "not-a-cursor"},
        headers=clerk_headers,
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_unknown_product_reads_as_not_found(
    client: httpx.AsyncClient, clerk_headers: Headers
) -> None:
    response = await client.get(f"{API}/products/{uuid.uuid4()}", headers=clerk_headers)
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_the_caller_is_an_immutable_snapshot() -> None:
    now = datetime.now(UTC)
    user = ActiveUser(uuid.uuid4(), "a@example.com", "A", Role.CLERK, True, None, now, now)
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.role = Role.ADMIN  # type: ignore[misc]
    assert user.role.includes(Role.VIEWER)
    assert not user.role.includes(Role.MANAGER)
