"""Deliveries through the webhook API (admins): a queued test event, the delivery log and
its filters, retry and recover, and pausing an endpoint (its pending deliveries fail, and
queueing is refused with 409 until it is enabled again).

In-process apps deliver nothing (webhook_concurrency=0): a queued delivery stays pending
until the test changes it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.services.webhook.dispatch import disable_endpoint
from tests.support.webhook_api import (
    UNKNOWN,
    WEBHOOKS,
    Headers,
    assert_problem,
    deliveries,
    error_locs,
    hook,
    new_hook,
    send_test,
    set_active,
)


async def test_a_test_event_is_queued_and_listed_pending(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers, event_types=["movement.created"])
    queued = await send_test(client, admin_headers, created["id"])
    assert queued["event_type"] == "webhook.test"
    assert (queued["status"], queued["attempts"]) == ("pending", 0)
    assert queued["event_id"].startswith("test_")
    assert queued["next_attempt_at"] is not None
    assert (queued["delivered_at"], queued["last_status_code"], queued["last_error"]) == (
        None,
        None,
        None,
    )
    assert await deliveries(client, admin_headers, created["id"]) == [queued]
    assert await deliveries(client, admin_headers, created["id"], status="pending") == [queued]
    assert await deliveries(client, admin_headers, created["id"], status="delivered") == []
    assert await deliveries(client, admin_headers, created["id"], status="failed") == []


async def test_deliveries_list_pages_and_refuses_bad_filters(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    first = await send_test(client, admin_headers, created["id"])
    second = await send_test(client, admin_headers, created["id"])
    url = f"{WEBHOOKS}/{created['id']}/deliveries"
    page = await client.get(url, params={"limit": "1"}, headers=admin_headers)
    assert [d["id"] for d in page.json()["items"]] == [second["id"]]
    following = await client.get(
        url, params={"limit": "1", "cursor": page.json()["next_cursor"]}, headers=admin_headers
    )
    assert [d["id"] for d in following.json()["items"]] == [first["id"]]
    assert following.json()["next_cursor"] is None
    bad_status = await client.get(url, params={"status": "lost"}, headers=admin_headers)
    assert_problem(bad_status, 422, "validation-error")
    assert error_locs(bad_status) == [["query", "status"]]
    unknown = await client.get(url, params={"colour": "red"}, headers=admin_headers)
    assert error_locs(unknown) == [["query", "colour"]]


async def test_retry_requeues_a_failed_delivery(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    queued = await send_test(client, admin_headers, created["id"])
    await set_active(client, admin_headers, created["id"], False)
    await set_active(client, admin_headers, created["id"], True)
    (failed,) = await deliveries(client, admin_headers, created["id"], status="failed")
    assert failed["id"] == queued["id"]
    response = await client.post(
        f"{WEBHOOKS}/{created['id']}/deliveries/{queued['id']}/retry", headers=admin_headers
    )
    assert response.status_code == 202, response.text
    assert (response.json()["id"], response.json()["status"]) == (queued["id"], "pending")
    assert response.json()["next_attempt_at"] is not None
    assert await deliveries(client, admin_headers, created["id"], status="failed") == []
    assert await deliveries(client, admin_headers, created["id"], status="pending") == [
        response.json()
    ]


async def test_retry_makes_a_backed_off_pending_delivery_due_now(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    created = await new_hook(client, admin_headers)
    queued = await send_test(client, admin_headers, created["id"])
    # As after a failed attempt: pending, the next attempt an hour away, no claim.
    await connection.execute(
        text(
            "UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour', "
            "step = 3, attempts = 3 WHERE id = :id"
        ),
        {"id": queued["id"]},
    )
    (waiting,) = await deliveries(client, admin_headers, created["id"])
    assert waiting["next_attempt_at"] > queued["next_attempt_at"]
    response = await client.post(
        f"{WEBHOOKS}/{created['id']}/deliveries/{queued['id']}/retry", headers=admin_headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["next_attempt_at"] == queued["next_attempt_at"]
    step = await connection.scalar(
        text("SELECT step FROM webhook_deliveries WHERE id = :id"), {"id": queued["id"]}
    )
    assert step == 0
    (shown,) = await deliveries(client, admin_headers, created["id"])
    assert shown == response.json()


async def test_retry_refuses_unknown_deliveries_and_those_of_another_endpoint(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    mine = await new_hook(client, admin_headers)
    other = await new_hook(client, admin_headers)
    theirs = await send_test(client, admin_headers, other["id"])
    base = f"{WEBHOOKS}/{mine['id']}/deliveries"
    unknown = await client.post(f"{base}/{UNKNOWN}/retry", headers=admin_headers)
    assert_problem(unknown, 404, "not-found")
    foreign = await client.post(f"{base}/{theirs['id']}/retry", headers=admin_headers)
    assert_problem(foreign, 404, "not-found")
    malformed = await client.post(f"{base}/nope/retry", headers=admin_headers)
    assert_problem(malformed, 422, "validation-error")
    assert await deliveries(client, admin_headers, mine["id"]) == []
    assert await deliveries(client, admin_headers, other["id"]) == [theirs]


async def test_recover_requeues_failed_deliveries_since(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    queued = [await send_test(client, admin_headers, created["id"]) for _ in range(2)]
    await set_active(client, admin_headers, created["id"], False)
    await set_active(client, admin_headers, created["id"], True)
    url = f"{WEBHOOKS}/{created['id']}/recover"
    later = await client.post(url, json={"since": "2999-01-01T00:00:00Z"}, headers=admin_headers)
    assert (later.status_code, later.json()) == (202, {"requeued": 0})
    assert len(await deliveries(client, admin_headers, created["id"], status="failed")) == 2
    since = queued[0]["created_at"]
    response = await client.post(url, json={"since": since}, headers=admin_headers)
    assert (response.status_code, response.json()) == (202, {"requeued": 2})
    pending = await deliveries(client, admin_headers, created["id"], status="pending")
    assert sorted(d["id"] for d in pending) == sorted(d["id"] for d in queued)
    assert await deliveries(client, admin_headers, created["id"], status="failed") == []


@pytest.mark.parametrize(
    "body",
    [
        {"since": "yesterday"},
        {"since": "2026"},
        {"since": "2026-01-31T12:00:00"},  # no timezone
        {"since": None},
        {},
        {"since": "2026-01-31T12:00:00Z", "status": "failed"},
    ],
)
async def test_recover_refuses_a_bad_since(
    client: httpx.AsyncClient, admin_headers: Headers, body: dict[str, Any]
) -> None:
    created = await new_hook(client, admin_headers)
    await send_test(client, admin_headers, created["id"])
    await set_active(client, admin_headers, created["id"], False)
    await set_active(client, admin_headers, created["id"], True)
    response = await client.post(
        f"{WEBHOOKS}/{created['id']}/recover", json=body, headers=admin_headers
    )
    assert_problem(response, 422, "validation-error")
    assert len(await deliveries(client, admin_headers, created["id"], status="failed")) == 1


# ---------------------------------------------------------------- pausing and disabling


async def test_pausing_fails_pending_deliveries_and_refuses_new_ones(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    queued = await send_test(client, admin_headers, created["id"])
    paused = await set_active(client, admin_headers, created["id"], False)
    assert (paused["is_active"], paused["disabled_reason"]) == (False, None)
    assert await hook(client, admin_headers, created["id"]) == paused

    (failed,) = await deliveries(client, admin_headers, created["id"], status="failed")
    assert failed["id"] == queued["id"]
    assert "paused" in failed["last_error"]
    assert failed["next_attempt_at"] is None
    assert await deliveries(client, admin_headers, created["id"], status="pending") == []
    # Pausing a paused endpoint changes nothing.
    assert await set_active(client, admin_headers, created["id"], False) == paused


async def test_a_disabled_endpoint_refuses_test_retry_and_recover_with_409(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    queued = await send_test(client, admin_headers, created["id"])
    await set_active(client, admin_headers, created["id"], False)
    base = f"{WEBHOOKS}/{created['id']}"
    refused = [
        await client.post(f"{base}/test", headers=admin_headers),
        await client.post(f"{base}/deliveries/{queued['id']}/retry", headers=admin_headers),
        await client.post(
            f"{base}/recover", json={"since": queued["created_at"]}, headers=admin_headers
        ),
    ]
    for response in refused:
        problem = assert_problem(response, 409, "conflict")
        assert "is_active" in problem["detail"]
    (only,) = await deliveries(client, admin_headers, created["id"])
    assert (only["id"], only["status"]) == (queued["id"], "failed")
    # Reading, changing and deleting still work while it is disabled.
    changed = await client.patch(base, json={"description": "off"}, headers=admin_headers)
    assert (changed.status_code, changed.json()["is_active"]) == (200, False)


async def test_enabling_again_clears_the_reason_and_accepts_test_events(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    created = await new_hook(client, admin_headers)
    queued = await send_test(client, admin_headers, created["id"])
    # As the delivery workers disable an endpoint that answered 410 Gone.
    async with AsyncSession(bind=connection) as session:
        await disable_endpoint(session, uuid.UUID(created["id"]), "the endpoint answered 410 Gone")
    disabled = await hook(client, admin_headers, created["id"])
    assert (disabled["is_active"], disabled["disabled_reason"]) == (
        False,
        "the endpoint answered 410 Gone",
    )
    (failed,) = await deliveries(client, admin_headers, created["id"], status="failed")
    assert "410 Gone" in failed["last_error"]
    assert_problem(
        await client.post(f"{WEBHOOKS}/{created['id']}/test", headers=admin_headers),
        409,
        "conflict",
    )

    enabled = await set_active(client, admin_headers, created["id"], True)
    assert (enabled["is_active"], enabled["disabled_reason"]) == (True, None)
    assert await hook(client, admin_headers, created["id"]) == enabled
    # Failed deliveries stay failed (recover requeues them); new ones are accepted.
    assert (await deliveries(client, admin_headers, created["id"]))[0]["id"] == queued["id"]
    again = await send_test(client, admin_headers, created["id"])
    assert await deliveries(client, admin_headers, created["id"], status="pending") == [again]
    assert await deliveries(client, admin_headers, created["id"], status="failed") == [failed]
