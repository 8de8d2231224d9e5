"""A movement that states the on-hand quantity it expects (`expected_on_hand`): posted when
the level holds exactly that, otherwise 409 stale-quantity and nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.schemas.stock import MovementCreate
from src.services.idempotency import fingerprint
from tests.support.factories import Headers
from tests.support.stock import API, Item, Stocked, level, post_movement, reserve


async def _ledger(client: httpx.AsyncClient, headers: Headers, product: Item) -> list[Item]:
    response = await client.get(
        f"{API}/stock/movements", params={"product_id": product["id"]}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[Item] = response.json()["items"]
    return items


async def test_an_issue_expecting_what_is_on_hand_is_posted(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 3, expected_on_hand=10, reference="SO-9"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["quantity"], body["balance_after"], body["reference"]) == (-3, 7, "SO-9")
    assert body["batch_id"] is None
    assert response.headers["location"] == f"{API}/stock/movements/{body['id']}"
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 7
    shown = await client.get(response.headers["location"], headers=clerk_headers)
    assert shown.json() == body


async def test_a_receipt_and_an_adjustment_expecting_what_is_on_hand(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    first = await post_movement(client, clerk_headers, product, b, "receipt", 4, expected_on_hand=0)
    assert first.status_code == 201, first.text
    assert first.json()["balance_after"] == 4
    second = await post_movement(
        client, clerk_headers, product, a, "adjustment", -2, reason="damage", expected_on_hand=10
    )
    assert second.status_code == 201, second.text
    assert (second.json()["balance_after"], second.json()["reason"]) == (8, "damage")


async def test_a_stale_expectation_writes_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    before = await _ledger(client, clerk_headers, product)
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 3, expected_on_hand=9
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/stale-quantity"
    assert (problem["title"], problem["on_hand"]) == ("Stale quantity", 10)
    assert "line" not in problem
    assert response.headers["content-type"] == "application/problem+json"
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10
    assert await _ledger(client, clerk_headers, product) == before


async def test_a_level_never_stocked_is_expected_at_zero(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, _, b = stocked
    stale = await post_movement(client, clerk_headers, product, b, "receipt", 1, expected_on_hand=5)
    assert stale.status_code == 409
    assert stale.json()["on_hand"] == 0
    assert (await level(client, clerk_headers, product, b))["on_hand"] == 0


async def test_on_hand_is_compared_and_reservations_still_hold(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    assert (await reserve(client, clerk_headers, product, a, 7)).status_code == 201
    # The expectation is right (10 on hand), but only 3 are available.
    short = await post_movement(client, clerk_headers, product, a, "issue", 4, expected_on_hand=10)
    assert short.status_code == 409
    assert short.json()["type"] == "/problems/insufficient-stock"
    assert short.json()["available"] == 3
    fits = await post_movement(client, clerk_headers, product, a, "issue", 3, expected_on_hand=10)
    assert fits.status_code == 201, fits.text
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (7, 7, 0)


async def test_an_overdue_reservation_is_freed_first(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    held = await reserve(client, clerk_headers, product, a, 8)
    await connection.execute(
        text("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": held.json()["id"]},
    )
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 5, expected_on_hand=10
    )
    assert response.status_code == 201, response.text
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"]) == (5, 0)
    status = await connection.scalar(
        text("SELECT status FROM reservations WHERE id = :id"), {"id": held.json()["id"]}
    )
    assert status == "expired"


@pytest.mark.parametrize("value", ["10", -1, 5.5, True, 10**12 + 1])
async def test_expected_on_hand_must_be_a_whole_number_at_least_zero(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, value: Any
) -> None:
    product, a, _ = stocked
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 1, expected_on_hand=value
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "expected_on_hand"]]
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10


async def test_null_is_no_expectation(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 1, expected_on_hand=None
    )
    assert response.status_code == 201, response.text
    assert response.json()["balance_after"] == 9


@pytest.mark.parametrize("who", ["nobody", "viewer"])
async def test_only_clerks_post(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked, who: str
) -> None:
    product, a, _ = stocked
    headers = {} if who == "nobody" else viewer_headers
    response = await post_movement(client, headers, product, a, "issue", 1, expected_on_hand=10)
    assert response.status_code == (401 if who == "nobody" else 403)


async def test_unknown_and_archived_records_as_without_an_expectation(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    ghost = {"id": str(uuid.uuid4())}
    unknown = await post_movement(client, clerk_headers, ghost, a, "issue", 1, expected_on_hand=0)
    assert unknown.status_code == 404
    assert "line" not in unknown.json()
    await client.delete(f"{API}/locations/{b['id']}", headers=manager_headers)
    archived = await post_movement(
        client, clerk_headers, product, b, "receipt", 1, expected_on_hand=0
    )
    assert archived.status_code == 409
    assert archived.json()["type"] == "/problems/conflict"


async def test_idempotency_key_replays_and_refuses_another_expectation(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    headers = {**clerk_headers, "Idempotency-Key": f"expect-{uuid.uuid4()}"}
    first = await post_movement(client, headers, product, a, "issue", 2, expected_on_hand=10)
    assert first.status_code == 201, first.text
    # The level is 8 now, but the same request is answered from its record, not re-checked.
    again = await post_movement(client, headers, product, a, "issue", 2, expected_on_hand=10)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    other = await post_movement(client, headers, product, a, "issue", 2, expected_on_hand=8)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 8


async def test_the_expected_path_emits_the_movement(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    response = await post_movement(
        client, clerk_headers, product, a, "issue", 6, expected_on_hand=10
    )
    assert response.status_code == 201, response.text
    rows = await connection.execute(
        text("SELECT type, data FROM events WHERE data->>'id' = :id OR type = :below ORDER BY seq"),
        {"id": response.json()["id"], "below": "level.below_reorder"},
    )
    events = [(row.type, row.data) for row in rows]
    assert events[0] == ("movement.created", response.json())
    # 10 -> 4 crosses the reorder point (5).
    assert [t for t, _ in events] == ["movement.created", "level.below_reorder"]


def test_a_body_without_the_field_fingerprints_as_before() -> None:
    """Idempotency records stored before the field existed still match their retries."""
    body = {
        "product_id": str(uuid.uuid4()),
        "location_id": str(uuid.uuid4()),
        "kind": "issue",
        "quantity": 1,
    }
    movement = MovementCreate.model_validate(body)
    assert "expected_on_hand" not in movement.model_dump_json()
    expecting = MovementCreate.model_validate({**body, "expected_on_hand": 3})
    assert fingerprint("movement", expecting) != fingerprint("movement", movement)
