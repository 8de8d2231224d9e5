"""At most WEBHOOK_MAX_ENDPOINTS webhook endpoints exist: one more is a 409 `webhook-limit`
and nothing is stored, paused endpoints count, a deletion makes room, and concurrent
creations cannot race past the cap (each test has a database of its own, real commits)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.support.webhook_api import PUBLIC_URL, WEBHOOKS, assert_problem, hooks, set_active
from tests.support.webhook_shop import Shop, ShopFactory

CAP = {"webhook_max_endpoints": 3, "webhook_concurrency": 0}


async def create(s: Shop, n: int = 0) -> httpx.Response:
    return await s.client.post(WEBHOOKS, json={"url": f"{PUBLIC_URL}/{n}"}, headers=s.admin)


async def test_endpoints_up_to_the_cap_are_created(shop: ShopFactory) -> None:
    s = await shop(**CAP)
    answers = [await create(s, n) for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert sorted(h["url"] for h in await hooks(s.client, s.admin)) == [
        f"{PUBLIC_URL}/{n}" for n in range(3)
    ]


async def test_one_more_than_the_cap_is_a_409_and_stores_nothing(shop: ShopFactory) -> None:
    s = await shop(**CAP)
    for n in range(3):
        assert (await create(s, n)).status_code == 201
    before = await hooks(s.client, s.admin)

    body = assert_problem(await create(s, 3), 409, "webhook-limit")

    assert body["title"] == "Too many webhook endpoints"
    assert "At most 3 webhook endpoints" in body["detail"]
    assert "secret" not in body
    assert await hooks(s.client, s.admin) == before
    page = await s.client.get("/problems/webhook-limit", headers={"Accept": "application/json"})
    assert page.status_code == 200
    assert "WEBHOOK_MAX_ENDPOINTS" in page.text


async def test_paused_endpoints_count_toward_the_cap(shop: ShopFactory) -> None:
    s = await shop(**CAP)
    created = [(await create(s, n)).json() for n in range(3)]
    await set_active(s.client, s.admin, created[0]["id"], False)

    assert_problem(await create(s, 3), 409, "webhook-limit")
    assert len(await hooks(s.client, s.admin)) == 3


async def test_deleting_an_endpoint_makes_room_for_another(shop: ShopFactory) -> None:
    s = await shop(**CAP)
    created = [(await create(s, n)).json() for n in range(3)]
    gone = await s.client.delete(f"{WEBHOOKS}/{created[1]['id']}", headers=s.admin)
    assert gone.status_code == 204, gone.text

    again = await create(s, 3)

    assert again.status_code == 201, again.text
    urls = sorted(h["url"] for h in await hooks(s.client, s.admin))
    assert urls == [f"{PUBLIC_URL}/{n}" for n in (0, 2, 3)]


async def test_concurrent_creations_cannot_race_past_the_cap(shop: ShopFactory) -> None:
    s = await shop(**CAP)
    answers = await asyncio.gather(*(create(s, n) for n in range(10)))

    assert Counter(a.status_code for a in answers) == {201: 3, 409: 7}
    assert len(await hooks(s.client, s.admin)) == 3
