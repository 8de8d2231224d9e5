"""`POST /stock/batches`: several movements all or nothing, lines on one level checked
together, the first failing line named in the problem."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import (
    API,
    Item,
    Stocked,
    level,
    line,
    new_product,
    post_batch,
    receive,
    reserve,
)


async def _ledger(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[Item]:
    response = await client.get(f"{API}/stock/movements", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Item] = response.json()["items"]
    return items


async def _unchanged(client: httpx.AsyncClient, headers: Headers, stocked: Stocked) -> None:
    """The fixture's levels and ledger as they were: 10 at `a` (one receipt), nothing at `b`."""
    product, a, b = stocked
    assert (await level(client, headers, product, a))["on_hand"] == 10
    assert (await level(client, headers, product, b))["on_hand"] == 0
    assert len(await _ledger(client, headers, product_id=product["id"])) == 1


async def test_a_batch_posts_every_line_in_order(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    other = await new_product(client, manager_headers)
    response = await post_batch(
        client,
        clerk_headers,
        line(product, a, "issue", 2),
        line(product, a, "issue", 3, reference="SO-2"),
        line(other, b, "receipt", 7),
        line(product, a, "adjustment", 1, reason="found"),
        reference="  BATCH-1 ",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    batch_id = body["batch_id"]
    assert response.headers["location"] == f"{API}/stock/movements?batch_id={batch_id}"
    movements = body["movements"]
    assert [(m["quantity"], m["balance_after"]) for m in movements] == [
        (-2, 8),
        (-3, 5),
        (7, 7),
        (1, 6),
    ]
    # A line's own reference wins; the others carry the batch's (trimmed).
    assert [m["reference"] for m in movements] == ["BATCH-1", "SO-2", "BATCH-1", "BATCH-1"]
    assert {m["batch_id"] for m in movements} == {batch_id}
    assert [m["kind"] for m in movements] == ["issue", "issue", "receipt", "adjustment"]
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 6
    assert (await level(client, clerk_headers, other, b))["on_hand"] == 7
    listed = await client.get(response.headers["location"], headers=clerk_headers)
    assert {m["id"] for m in listed.json()["items"]} == {m["id"] for m in movements}
    one = await client.get(f"{API}/stock/movements/{movements[0]['id']}", headers=clerk_headers)
    assert one.json() == movements[0]


async def test_two_issues_of_six_against_ten_fail_together(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    response = await post_batch(
        client,
        clerk_headers,
        line(product, b, "receipt", 5),
        line(product, a, "issue", 6),
        line(product, a, "issue", 6),
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/insufficient-stock"
    assert (problem["line"], problem["available"]) == (2, 4)
    await _unchanged(client, clerk_headers, stocked)


async def test_later_lines_see_earlier_receipts(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await post_batch(
        client, clerk_headers, line(product, a, "receipt", 5), line(product, a, "issue", 12)
    )
    assert response.status_code == 201, response.text
    assert [m["balance_after"] for m in response.json()["movements"]] == [15, 3]
    # ... but an issue is checked where it stands: a receipt after it does not help.
    short = await post_batch(
        client, clerk_headers, line(product, a, "issue", 4), line(product, a, "receipt", 9)
    )
    assert short.status_code == 409
    assert (short.json()["line"], short.json()["available"]) == (0, 3)
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 3


async def test_a_bad_line_is_422_at_its_index(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    lines = [line(product, a, "issue", 1) for _ in range(3)]
    response = await post_batch(
        client, clerk_headers, *lines, line(product, b, "receipt", 0), line(product, a, "issue", 1)
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert [e["loc"] for e in problem["errors"]] == [["body", "movements", 3, "quantity"]]
    assert "line" not in problem
    await _unchanged(client, clerk_headers, stocked)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"movements": []}, ["body", "movements"]),
        ({"reference": "R"}, ["body", "movements"]),
        ({"movements": [{"kind": "issue"}]}, ["body", "movements", 0, "product_id"]),
        ({"movements": "all"}, ["body", "movements"]),
        ({"movements": [], "note": "x"}, ["body", "note"]),
    ],
)
async def test_malformed_batches_are_422(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    stocked: Stocked,
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    response = await client.post(f"{API}/stock/batches", json=body, headers=clerk_headers)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["errors"]]
    await _unchanged(client, clerk_headers, stocked)


async def test_at_most_100_lines(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, _, b = stocked
    many = [line(product, b, "receipt", 1) for _ in range(101)]
    refused = await post_batch(client, clerk_headers, *many)
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == [["body", "movements"]]
    posted = await post_batch(client, clerk_headers, *many[:100])
    assert posted.status_code == 201, posted.text
    assert [m["balance_after"] for m in posted.json()["movements"]] == list(range(1, 101))
    assert (await level(client, clerk_headers, product, b))["on_hand"] == 100


async def test_unknown_records_are_404_at_the_line_naming_them(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    ghost = {"id": str(uuid.uuid4())}
    response = await post_batch(
        client,
        clerk_headers,
        line(product, b, "receipt", 1),
        line(product, a, "issue", 1),
        line(product, ghost, "receipt", 1),
        line(ghost, a, "receipt", 1),
    )
    assert response.status_code == 404
    problem = response.json()
    assert (problem["type"], problem["line"]) == ("/problems/not-found", 2)
    assert problem["detail"] == "No location with this id"
    await _unchanged(client, clerk_headers, stocked)


async def test_archived_records_are_409_at_the_line_naming_them(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    await client.delete(f"{API}/locations/{b['id']}", headers=manager_headers)
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 1), line(product, b, "receipt", 1)
    )
    assert response.status_code == 409
    problem = response.json()
    assert (problem["type"], problem["line"]) == ("/problems/conflict", 1)
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10


async def test_the_first_failing_line_decides(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    ghost = {"id": str(uuid.uuid4())}
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 11), line(ghost, a, "receipt", 1)
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/insufficient-stock"
    assert (response.json()["line"], response.json()["available"]) == (0, 10)


async def test_a_batch_respects_reservations(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    assert (await reserve(client, clerk_headers, product, a, 7)).status_code == 201
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 2), line(product, a, "issue", 2)
    )
    assert response.status_code == 409
    assert (response.json()["line"], response.json()["available"]) == (1, 1)
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (10, 7, 3)
    fits = await post_batch(client, clerk_headers, line(product, a, "issue", 3))
    assert fits.status_code == 201, fits.text


async def test_overdue_reservations_are_freed_for_a_short_level(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    held = (await reserve(client, clerk_headers, product, a, 8)).json()
    await connection.execute(
        text("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": held["id"]},
    )
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 3), line(product, a, "issue", 3)
    )
    assert response.status_code == 201, response.text
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"]) == (4, 0)
    types = await connection.scalars(
        text("SELECT type FROM events WHERE type IN (:e, :m) ORDER BY seq"),
        {"e": "reservation.expired", "m": "movement.created"},
    )
    # The receipt of the fixture, the expiry, then the batch's two lines.
    assert list(types)[-3:] == ["reservation.expired", "movement.created", "movement.created"]


async def test_expected_on_hand_on_a_line_sees_the_lines_before_it(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    stale = await post_batch(
        client,
        clerk_headers,
        line(product, a, "issue", 3, expected_on_hand=10),
        line(product, a, "issue", 2, expected_on_hand=10),
    )
    assert stale.status_code == 409
    problem = stale.json()
    assert problem["type"] == "/problems/stale-quantity"
    assert (problem["line"], problem["on_hand"]) == (1, 7)
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10
    fresh = await post_batch(
        client,
        clerk_headers,
        line(product, a, "issue", 3, expected_on_hand=10),
        line(product, a, "issue", 2, expected_on_hand=7),
    )
    assert fresh.status_code == 201, fresh.text
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 5


async def test_a_level_cannot_pass_its_bound(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 1), line(product, a, "receipt", 10**12)
    )
    assert response.status_code == 409
    assert (response.json()["type"], response.json()["line"]) == ("/problems/conflict", 1)
    await _unchanged(client, clerk_headers, stocked)


@pytest.mark.parametrize("who", ["nobody", "viewer"])
async def test_only_clerks_post_batches(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked, who: str
) -> None:
    product, a, _ = stocked
    headers = {} if who == "nobody" else viewer_headers
    response = await post_batch(client, headers, line(product, a, "issue", 1))
    assert response.status_code == (401 if who == "nobody" else 403)
    assert (await level(client, viewer_headers, product, a))["on_hand"] == 10


async def test_idempotency_key_replays_the_batch(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    headers = {**clerk_headers, "Idempotency-Key": f"batch-{uuid.uuid4()}"}
    lines = (line(product, a, "issue", 4), line(product, b, "receipt", 4))
    first = await post_batch(client, headers, *lines)
    assert first.status_code == 201, first.text
    again = await post_batch(client, headers, *lines)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    other = await post_batch(client, headers, *lines, reference="X")
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 6
    assert len(await _ledger(client, clerk_headers, batch_id=first.json()["batch_id"])) == 2


async def test_a_batch_emits_one_movement_per_line(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    mark = await connection.scalar(text("SELECT coalesce(max(seq), 0) FROM events"))
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 3), line(product, a, "issue", 3)
    )
    assert response.status_code == 201, response.text
    rows = await connection.execute(
        text("SELECT type, data FROM events WHERE seq > :s ORDER BY seq"), {"s": mark}
    )
    events = [(row.type, row.data) for row in rows]
    first, second = response.json()["movements"]
    # 10 -> 7 stays at or above the reorder point (5); 7 -> 4 crosses it.
    assert [t for t, _ in events] == ["movement.created", "movement.created", "level.below_reorder"]
    assert [d for _, d in events[:2]] == [first, second]
    assert events[2][1]["on_hand"] == 4


async def test_a_failed_batch_emits_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    mark = await connection.scalar(text("SELECT coalesce(max(seq), 0) FROM events"))
    response = await post_batch(
        client, clerk_headers, line(product, a, "issue", 3), line(product, a, "issue", 8)
    )
    assert response.status_code == 409
    after = await connection.scalar(text("SELECT count(*) FROM events WHERE seq > :s"), {"s": mark})
    assert after == 0
    batches = await connection.scalar(
        text("SELECT count(*) FROM stock_movements WHERE batch_id IS NOT NULL")
    )
    assert batches == 0


async def test_the_batch_filter_lists_only_that_batch(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    await receive(client, clerk_headers, product, b, 1)
    one = await post_batch(client, clerk_headers, line(product, a, "issue", 1))
    two = await post_batch(client, clerk_headers, line(product, b, "issue", 1))
    ids = [one.json()["batch_id"], two.json()["batch_id"]]
    only = await _ledger(client, clerk_headers, batch_id=ids[0])
    assert [m["id"] for m in only] == [one.json()["movements"][0]["id"]]
    both = await _ledger(client, clerk_headers, batch_id=ids)
    assert len(both) == 2
    assert await _ledger(client, clerk_headers, batch_id=str(uuid.uuid4())) == []
    bad = await client.get(
        f"{API}/stock/movements", params={"batch_id": "nope"}, headers=clerk_headers
    )
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["errors"]] == [["query", "batch_id", 0]]
