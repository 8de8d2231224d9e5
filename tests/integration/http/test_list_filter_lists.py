"""Filters that name ids take repeated values: rows for any of them, up to 100 values."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, receive


async def test_repeated_product_ids_return_rows_for_any_of_them(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    a, b, c = [await new_product(client, manager_headers) for _ in range(3)]
    here, there = (
        await new_location(client, manager_headers),
        await new_location(client, manager_headers),
    )
    for product in (a, b, c):
        await receive(client, clerk_headers, product, here, 1)
    await receive(client, clerk_headers, a, there, 2)
    wanted = [a["id"], b["id"]]

    levels = await client.get(
        "/api/v1/stock/levels", params={"product_id": wanted}, headers=clerk_headers
    )
    assert levels.status_code == 200, levels.text
    assert sorted((i["product_id"], i["location_id"]) for i in levels.json()["items"]) == sorted(
        [(a["id"], here["id"]), (a["id"], there["id"]), (b["id"], here["id"])]
    )
    both = await client.get(
        "/api/v1/stock/levels",
        params={"product_id": wanted, "location_id": [there["id"], str(uuid.uuid4())]},
        headers=clerk_headers,
    )
    assert [(i["product_id"], i["location_id"]) for i in both.json()["items"]] == [
        (a["id"], there["id"])
    ]

    # Movements: keyset pages over several products still hold each row exactly once.
    seen: list[str] = []
    params: dict[str, str | list[str]] = {"product_id": wanted, "limit": "1"}
    while True:
        page = await client.get("/api/v1/stock/movements", params=params, headers=clerk_headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [m["product_id"] for m in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert sorted(seen) == sorted([a["id"], a["id"], b["id"]])
    by_location = await client.get(
        "/api/v1/stock/movements",
        params={"location_id": [here["id"], there["id"]], "product_id": c["id"]},
        headers=clerk_headers,
    )
    assert [m["product_id"] for m in by_location.json()["items"]] == [c["id"]]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/stock/movements", "product_id"),
        ("/api/v1/stock/movements", "location_id"),
        ("/api/v1/stock/movements", "transfer_id"),
        ("/api/v1/stock/movements", "count_id"),
        ("/api/v1/stock/movements", "batch_id"),
        ("/api/v1/stock/levels", "product_id"),
        ("/api/v1/stock/levels", "location_id"),
    ],
)
async def test_more_than_100_ids_is_422_naming_the_parameter(
    client: httpx.AsyncClient, clerk_headers: Headers, path: str, name: str
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(101)]
    response = await client.get(path, params={name: ids}, headers=clerk_headers)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", name]]
    at_most = await client.get(path, params={name: ids[:100]}, headers=clerk_headers)
    assert at_most.status_code == 200
    assert at_most.json()["items"] == []


async def test_one_bad_id_among_several_is_422_naming_the_parameter(
    client: httpx.AsyncClient, clerk_headers: Headers
) -> None:
    response = await client.get(
        "/api/v1/stock/movements",
        params={"product_id": [str(uuid.uuid4()), "nope"]},
        headers=clerk_headers,
    )
    assert response.status_code == 422
    assert [e["loc"][:2] for e in response.json()["errors"]] == [["query", "product_id"]]
