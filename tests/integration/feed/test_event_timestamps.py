"""One timestamp format for every event written out: the feed page, webhook bodies and the
`webhook.test` event all write `occurred_at` in RFC 3339 with UTC as `Z` (never `+00:00`).
The last tests check that a refused test event queues nothing."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.webhook_api import (
    UNKNOWN,
    WEBHOOKS,
    Headers,
    assert_problem,
    deliveries,
    new_hook,
    send_test,
    set_active,
)
from tests.support.webhook_shop import ShopFactory
from tests.support.webhooks import Receiver, receiving

UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


async def stored_payload(connection: AsyncConnection, delivery_id: str) -> dict[str, object]:
    payload = await connection.scalar(
        text("SELECT payload FROM webhook_deliveries WHERE id = CAST(:id AS uuid)"),
        {"id": delivery_id},
    )
    body: dict[str, object] = json.loads(payload)
    return body


async def test_a_test_event_writes_occurred_at_with_z(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    created = await new_hook(client, admin_headers)
    queued = await send_test(client, admin_headers, created["id"])

    body = await stored_payload(connection, queued["id"])

    assert body["type"] == "webhook.test"
    assert isinstance(body["occurred_at"], str)
    assert UTC_Z.match(body["occurred_at"]), body["occurred_at"]
    assert list(body) == ["id", "type", "occurred_at", "actor", "data"]  # the feed's shape


async def test_a_test_event_to_a_paused_endpoint_is_refused_and_queues_nothing(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    await set_active(client, admin_headers, created["id"], False)

    response = await client.post(f"{WEBHOOKS}/{created['id']}/test", headers=admin_headers)

    assert_problem(response, 409, "conflict")
    assert await deliveries(client, admin_headers, created["id"]) == []


async def test_a_test_event_to_an_unknown_endpoint_is_a_404_and_queues_nothing(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    response = await client.post(f"{WEBHOOKS}/{UNKNOWN}/test", headers=admin_headers)

    assert_problem(response, 404, "not-found")
    assert await connection.scalar(text("SELECT count(*) FROM webhook_deliveries")) == 0


async def test_the_feed_webhooks_and_the_test_event_write_one_format(shop: ShopFactory) -> None:
    s = await shop()
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        movement = await s.receipt()
        queued = await s.client.post(f"{WEBHOOKS}/{endpoint['id']}/test", headers=s.admin)
        assert queued.status_code == 202, queued.text
        await receiver.wait_for(lambda: len(receiver.received) == 2)

    sent = {d.event["type"]: d.event for d in receiver.received}
    page = await s.client.get(
        "/api/v1/events", params={"types": "movement.created"}, headers=s.admin
    )
    assert page.status_code == 200, page.text
    (listed,) = [e for e in page.json()["items"] if e["data"]["id"] == movement["id"]]

    # The same event, written by the feed and by the webhook: the same bytes.
    assert sent["movement.created"]["occurred_at"] == listed["occurred_at"]
    for occurred_at in (listed["occurred_at"], sent["webhook.test"]["occurred_at"]):
        assert UTC_Z.match(occurred_at), occurred_at
