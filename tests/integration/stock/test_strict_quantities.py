"""Stock quantities are JSON integers as written (issue #23 item 14): `1.0` and `1e3` are
422 at the field, like `"1"`, and nothing is written."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import Stocked, level, on_hand, post_movement

JSON = {"Content-Type": "application/json"}


def _raw(body: dict[str, Any], **numbers: str) -> bytes:
    """`body` as JSON with each of `numbers` written exactly as given (`1e3` stays `1e3`)."""
    text = json.dumps({**body, **{name: f"@{name}@" for name in numbers}})
    for name, literal in numbers.items():
        text = text.replace(f'"@{name}@"', literal)
    return text.encode()


async def test_an_integer_quantity_is_posted(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    body = {"product_id": product["id"], "location_id": a["id"], "kind": "receipt"}
    response = await client.post(
        "/api/v1/stock/movements",
        content=_raw(body, quantity="3"),
        headers={**clerk_headers, **JSON},
    )
    assert response.status_code == 201, response.text
    assert response.json()["quantity"] == 3
    assert await on_hand(client, clerk_headers, product, a) == 13


@pytest.mark.parametrize("literal", ["1.0", "1e3", "1E3", "1e0", "-2.0", "3.00"])
async def test_a_movement_quantity_written_as_a_float_is_refused(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, literal: str
) -> None:
    product, a, _ = stocked
    kind = "adjustment" if literal.startswith("-") else "receipt"
    body = {"product_id": product["id"], "location_id": a["id"], "kind": kind}
    if kind == "adjustment":
        body["reason"] = "damage"
    response = await client.post(
        "/api/v1/stock/movements",
        content=_raw(body, quantity=literal),
        headers={**clerk_headers, **JSON},
    )
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "quantity"]]
    assert await on_hand(client, clerk_headers, product, a) == 10


async def test_transfers_counts_and_reservations_refuse_floats_too(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    cases = [
        (
            "/api/v1/stock/transfers",
            _raw(
                {
                    "product_id": product["id"],
                    "from_location_id": a["id"],
                    "to_location_id": b["id"],
                },
                quantity="2.0",
            ),
            ["body", "quantity"],
        ),
        (
            "/api/v1/stock/counts",
            json.dumps(
                {"location_id": a["id"], "lines": [{"product_id": product["id"], "counted": 5.0}]}
            ).encode(),
            ["body", "lines", 0, "counted"],
        ),
        (
            "/api/v1/stock/reservations",
            _raw({"product_id": product["id"], "location_id": a["id"]}, quantity="1e0"),
            ["body", "quantity"],
        ),
    ]
    for url, body, loc in cases:
        response = await client.post(url, content=body, headers={**clerk_headers, **JSON})
        assert response.status_code == 422, (url, response.text)
        assert [e["loc"] for e in response.json()["errors"]] == [loc], url
    now = await level(client, clerk_headers, product, a)
    assert (now["on_hand"], now["reserved"]) == (10, 0)
    assert await on_hand(client, clerk_headers, product, b) == 0


async def test_expected_on_hand_written_as_a_float_is_refused(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 1, expected_on_hand=10.0
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "expected_on_hand"]]
    assert await on_hand(client, clerk_headers, product, a) == 10
