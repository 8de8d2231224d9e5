"""References on the ledger: find movements by reference; counts carry a reference and note."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, post_movement, receive


async def test_movements_by_reference_are_an_exact_match(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product, location = (
        await new_product(client, manager_headers),
        await new_location(client, manager_headers),
    )
    wanted = await post_movement(
        client, clerk_headers, product, location, "receipt", 5, reference="PO-77"
    )
    for other in ("PO-777", "po-77", "XPO-77"):
        posted = await post_movement(
            client, clerk_headers, product, location, "receipt", 1, reference=other
        )
        assert posted.status_code == 201
    await receive(client, clerk_headers, product, location, 1)

    response = await client.get(
        "/api/v1/stock/movements", params={"reference": "PO-77"}, headers=clerk_headers
    )
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["items"]] == [wanted.json()["id"]]
    none = await client.get(
        "/api/v1/stock/movements", params={"reference": "PO-7"}, headers=clerk_headers
    )
    assert none.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("value", ["x" * 201, "PO\x0077"])
async def test_a_bad_reference_filter_is_422_naming_it(
    client: httpx.AsyncClient, clerk_headers: Headers, value: str
) -> None:
    response = await client.get(
        "/api/v1/stock/movements", params={"reference": value}, headers=clerk_headers
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "reference"]]


async def _count(
    client: httpx.AsyncClient, headers: Headers, location: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/stock/counts", json={"location_id": location["id"], **body}, headers=headers
    )


async def test_a_count_stores_its_reference_and_note_on_its_movements(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    a, b = await new_product(client, manager_headers), await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    await receive(client, clerk_headers, a, location, 4)
    lines = [{"product_id": a["id"], "counted": 3}, {"product_id": b["id"], "counted": 2}]
    response = await _count(
        client, clerk_headers, location, lines=lines, reference=" ST-2026-11 ", note="aisle 4"
    )
    assert response.status_code == 201, response.text
    movements = response.json()["movements"]
    assert [(m["reference"], m["note"]) for m in movements] == [("ST-2026-11", "aisle 4")] * 2
    # Stored: the ledger answers them, and finds the count by its reference.
    found = await client.get(
        "/api/v1/stock/movements", params={"reference": "ST-2026-11"}, headers=clerk_headers
    )
    assert sorted(m["id"] for m in found.json()["items"]) == sorted(m["id"] for m in movements)
    assert {m["note"] for m in found.json()["items"]} == {"aisle 4"}


async def test_a_count_without_reference_or_note_stores_none(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product, location = (
        await new_product(client, manager_headers),
        await new_location(client, manager_headers),
    )
    response = await _count(
        client, clerk_headers, location, lines=[{"product_id": product["id"], "counted": 1}]
    )
    assert response.status_code == 201
    [movement] = response.json()["movements"]
    assert (movement["reference"], movement["note"]) == (None, None)


@pytest.mark.parametrize(
    ("field", "value"), [("reference", "x" * 201), ("note", "x" * 2001), ("note", 5)]
)
async def test_a_bad_count_reference_or_note_is_422_and_posts_nothing(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    field: str,
    value: Any,
) -> None:
    product, location = (
        await new_product(client, manager_headers),
        await new_location(client, manager_headers),
    )
    response = await _count(
        client,
        clerk_headers,
        location,
        lines=[{"product_id": product["id"], "counted": 7}],
        **{field: value},
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", field]]
    ledger = await client.get(
        "/api/v1/stock/movements", params={"product_id": product["id"]}, headers=clerk_headers
    )
    assert ledger.json()["items"] == []
