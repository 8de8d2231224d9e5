"""A webhook body is the event as the feed shows it, its `actor` included: the user or API
client whose request caused it, also for `webhook.test` (the admin who sent it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from src.core.scopes import Scope
from tests.support.actors import client_actor, committed_api_client
from tests.support.stock import post_movement
from tests.support.webhook_shop import API, ShopFactory
from tests.support.webhooks import Receiver, receiving


async def _feed_item(s: Any, event_id: str) -> dict[str, Any]:
    feed = await s.client.get(f"{API}/events", params={"limit": 100}, headers=s.admin)
    assert feed.status_code == 200, feed.text
    [item] = [item for item in feed.json()["items"] if item["id"] == event_id]
    found: dict[str, Any] = item
    return found


async def test_a_clients_movement_reaches_the_receiver_naming_the_client(
    shop: ShopFactory, tmp_path: Path
) -> None:
    s = await shop()
    erp, headers = await committed_api_client(
        s.database_url, tmp_path, scopes=(Scope.STOCK_WRITE,), name="ERP Connector"
    )
    async with receiving(Receiver()) as receiver:
        await s.hook_to(receiver, event_types=["movement.created"])
        posted = await post_movement(s.client, headers, s.product, s.location, "receipt", 2)
        assert posted.status_code == 201, posted.text
        await receiver.wait_for(lambda: len(receiver.received) == 1)

    delivery = receiver.received[0]
    assert receiver.unverified == []
    assert delivery.event["actor"] == client_actor(erp)
    assert delivery.event["data"] == posted.json()
    # Byte for byte the feed's item (the page writes the stored JSON as it is).
    assert delivery.event == await _feed_item(s, delivery.id)


async def test_a_users_movement_and_a_test_event_name_the_user(shop: ShopFactory) -> None:
    s = await shop()
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        movement = await s.receipt(1)
        queued = await s.client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=s.admin)
        assert queued.status_code == 202, queued.text
        await receiver.wait_for(lambda: len(receiver.received) == 2)

    by_type = {d.event["type"]: d.event for d in receiver.received}
    moved, tested = by_type["movement.created"], by_type["webhook.test"]
    assert moved["actor"] == movement["actor"]
    assert moved["actor"]["type"] == "user"
    assert moved["actor"]["id"] == movement["created_by"]
    me = await s.client.get(f"{API}/users/me", headers=s.admin)
    assert tested["actor"] == {
        "type": "user",
        "id": me.json()["id"],
        "name": me.json()["full_name"],
    }


async def test_a_client_that_may_not_post_sends_nothing_to_the_receiver(
    shop: ShopFactory, tmp_path: Path
) -> None:
    s = await shop()
    _, reader = await committed_api_client(
        s.database_url, tmp_path, scopes=(Scope.STOCK_READ,), name="Dashboard"
    )
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        refused = await post_movement(s.client, reader, s.product, s.location, "receipt", 2)
        assert refused.status_code == 403
        # Nor may it send a test event (webhooks are managed by people and scoped clients).
        test = await s.client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=reader)
        assert test.status_code == 403
        assert test.json()["required_scope"] == "webhooks:manage"
    assert receiver.received == []
    assert await s.deliveries(endpoint) == []
