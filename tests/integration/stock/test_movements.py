"""POST /stock/movements and reading the ledger."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, on_hand, post_movement, receive

URL = "/api/v1/stock/movements"


@pytest.fixture
async def item(
    client: httpx.AsyncClient, manager_headers: Headers
) -> tuple[dict[str, Any], dict[str, Any]]:
    return await new_product(client, manager_headers), await new_location(client, manager_headers)


async def test_receipt_issue_adjustment(
    client: httpx.AsyncClient, clerk_headers: Headers, item: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    product, location = item
    receipt = await post_movement(
        client,
        {**clerk_headers, "X-Request-ID": "rq-1"},
        product,
        location,
        "receipt",
        10,
        reference="PO-7",
        note="dock 2",
    )
    assert receipt.status_code == 201
    body = receipt.json()
    assert receipt.headers["location"] == f"{URL}/{body['id']}"
    assert (body["kind"], body["quantity"], body["balance_after"]) == ("receipt", 10, 10)
    assert (body["reference"], body["note"], body["request_id"]) == ("PO-7", "dock 2", "rq-1")
    issue = (await post_movement(client, clerk_headers, product, location, "issue", 4)).json()
    assert (issue["quantity"], issue["balance_after"]) == (-4, 6)
    adjustment = await post_movement(
        client, clerk_headers, product, location, "adjustment", -2, reason="damage"
    )
    assert adjustment.status_code == 201
    assert adjustment.json()["balance_after"] == 4
    assert await on_hand(client, clerk_headers, product, location) == 4
    me = (await client.get("/api/v1/users/me", headers=clerk_headers)).json()
    assert {body["created_by"], issue["created_by"]} == {me["id"]}


async def test_issue_beyond_on_hand_is_409_and_writes_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, item: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    product, location = item
    await receive(client, clerk_headers, product, location, 3)
    response = await post_movement(client, clerk_headers, product, location, "issue", 5)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/insufficient-stock"
    assert response.json()["available"] == 3
    negative = await post_movement(
        client, clerk_headers, product, location, "adjustment", -4, reason="loss"
    )
    assert negative.status_code == 409
    assert await on_hand(client, clerk_headers, product, location) == 3
    ledger = await client.get(URL, params={"product_id": product["id"]}, headers=clerk_headers)
    assert len(ledger.json()["items"]) == 1


async def test_issue_from_an_empty_location_is_409(
    client: httpx.AsyncClient, clerk_headers: Headers, item: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    product, location = item
    response = await post_movement(client, clerk_headers, product, location, "issue", 1)
    assert response.status_code == 409
    assert response.json()["available"] == 0


@pytest.mark.parametrize(
    ("kind", "quantity", "extra"),
    [
        ("receipt", 0, {}),
        ("receipt", -1, {}),
        ("issue", 0, {}),
        ("receipt", 1.5, {}),
        ("receipt", "3", {}),
        ("receipt", True, {}),
        ("receipt", 10**12 + 1, {}),
        ("adjustment", 5, {}),
        ("adjustment", 0, {"reason": "count"}),
        ("adjustment", 1, {"reason": "theft"}),
        ("receipt", 1, {"reason": "found"}),
        ("transfer", 1, {}),
        ("receipt", 1, {"created_by": str(uuid.uuid4())}),
        ("receipt", 1, {"reference": "x" * 201}),
    ],
)
async def test_bad_movements_are_422(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    item: tuple[dict[str, Any], dict[str, Any]],
    kind: str,
    quantity: object,
    extra: dict[str, object],
) -> None:
    product, location = item
    response = await post_movement(
        client,
        clerk_headers,
        product,
        location,
        kind,
        quantity,  # type: ignore[arg-type]
        **extra,
    )
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-error"


async def test_unknown_product_or_location_is_404(
    client: httpx.AsyncClient, clerk_headers: Headers, item: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    product, location = item
    ghost = {"id": str(uuid.uuid4())}
    assert (
        await post_movement(client, clerk_headers, ghost, location, "receipt", 1)
    ).status_code == 404
    assert (
        await post_movement(client, clerk_headers, product, ghost, "receipt", 1)
    ).status_code == 404


async def test_archived_location_accepts_no_movements(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    item: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    product, location = item
    archive = await client.delete(f"/api/v1/locations/{location['id']}", headers=manager_headers)
    assert archive.status_code == 204
    response = await post_movement(client, clerk_headers, product, location, "receipt", 1)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"


async def test_posting_needs_a_clerk(
    client: httpx.AsyncClient, viewer_headers: Headers, item: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    product, location = item
    assert (await post_movement(client, {}, product, location, "receipt", 1)).status_code == 401
    assert (
        await post_movement(client, viewer_headers, product, location, "receipt", 1)
    ).status_code == 403


async def test_read_one_movement(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    viewer_headers: Headers,
    item: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    product, location = item
    movement = await receive(client, clerk_headers, product, location, 2)
    response = await client.get(f"{URL}/{movement['id']}", headers=viewer_headers)
    assert response.status_code == 200
    assert response.json() == movement
    assert (await client.get(f"{URL}/{uuid.uuid4()}", headers=viewer_headers)).status_code == 404
    assert (await client.get(f"{URL}/{movement['id']}")).status_code == 401


async def test_list_filters_and_newest_first(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    item: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    product, location = item
    other = await new_location(client, manager_headers)
    first = await receive(client, clerk_headers, product, location, 5)
    second = await receive(client, clerk_headers, product, other, 5)
    third = (await post_movement(client, clerk_headers, product, location, "issue", 1)).json()

    async def ids(**params: str) -> list[str]:
        response = await client.get(
            URL, params={"product_id": product["id"], **params}, headers=clerk_headers
        )
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert await ids() == [third["id"], second["id"], first["id"]]
    assert await ids(location_id=location["id"]) == [third["id"], first["id"]]
    assert await ids(kind="issue") == [third["id"]]
    assert await ids(since=first["created_at"]) == [third["id"], second["id"], first["id"]]
    assert await ids(until=first["created_at"]) == []
    page = await client.get(
        URL, params={"product_id": product["id"], "limit": 2}, headers=clerk_headers
    )
    rest = await client.get(
        URL,
        params={"product_id": product["id"], "cursor": page.json()["next_cursor"]},
        headers=clerk_headers,
    )
    assert [m["id"] for m in rest.json()["items"]] == [first["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-01-01T00:00:00"},
        {"kind": "teleport"},
        {"product_id": "x"},
        {"limit": "0"},
        {"cursor": "forged"},
    ],
)
async def test_list_rejects_bad_filters(
    client: httpx.AsyncClient, viewer_headers: Headers, params: dict[str, str]
) -> None:
    response = await client.get(URL, params=params, headers=viewer_headers)
    assert response.status_code in {400, 422}
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_ledger_is_append_only_in_the_database(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    connection: AsyncConnection,
    item: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    product, location = item
    movement = await receive(client, clerk_headers, product, location, 2)
    for statement in [
        "UPDATE stock_movements SET quantity = 99 WHERE id = :id",
        "DELETE FROM stock_movements WHERE id = :id",
    ]:
        savepoint = await connection.begin_nested()
        with pytest.raises(Exception, match="append-only"):
            await connection.execute(text(statement), {"id": movement["id"]})
        await savepoint.rollback()
    savepoint = await connection.begin_nested()
    with pytest.raises(Exception, match="on_hand_non_negative"):
        await connection.execute(
            text("UPDATE stock_levels SET on_hand = -1 WHERE product_id = :p"),
            {"p": product["id"]},
        )
    await savepoint.rollback()
