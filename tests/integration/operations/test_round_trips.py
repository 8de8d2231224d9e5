"""Round trips to PostgreSQL per request, counted by a proxy on the wire (issue #12).

A read is the user/session check and one query, outside any transaction (no BEGIN, no
COMMIT); a posting with an Idempotency-Key is BEGIN, the check, the key's lock, the lookup
of a stored response, one statement for the movement, one for its events, the stored
response and the NOTIFY, and COMMIT (a replay: the first four and COMMIT; no key: no lock,
no lookup); the same for an API client's token as for a person's. Counted on a warm
connection (its statements already prepared), with the background loops far apart and the
feed's LISTEN on a direct connection.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.round_trips import Counted
from tests.support.stock import API, receive

EXPAND = "expand=product,location"
FUTURE = "2999-01-01T00:00:00Z"


def _reads(counted: Counted, cursor: str) -> dict[str, tuple[str, int]]:
    """Each read: its URL and its round trips (the session check alone for /users/me)."""
    product_id = counted.product["id"]
    ledger = f"{API}/stock/movements?product_id={product_id}"
    return {
        "me": (f"{API}/users/me", 1),
        "products": (f"{API}/products?limit=20", 2),
        "product": (f"{API}/products/{product_id}", 2),
        # The product joined to its levels: an unknown one is still a 404.
        "product stock": (f"{API}/products/{product_id}/stock", 2),
        "levels": (f"{API}/stock/levels?product_id={product_id}", 2),
        # Each level's product and location are joined into the page's one query.
        "levels expanded": (f"{API}/stock/levels?product_id={product_id}&{EXPAND}", 2),
        "levels as of, expanded": (f"{API}/stock/levels?as_of={FUTURE}&{EXPAND}", 2),
        # Every asked product (by id or SKU) with its levels in one statement, whatever the count.
        "availability": (
            f"{API}/stock/availability?product_id={product_id}&product_id={product_id}"
            f"&sku={counted.product['sku']}",
            2,
        ),
        "ledger": (f"{ledger}&limit=20", 2),
        "ledger page 2": (f"{ledger}&limit=1&cursor={cursor}", 2),
        # The page and the feed's watermark (410 for a purged position) in one statement.
        "feed": (f"{API}/events?limit=100", 2),
    }


async def test_a_read_is_the_session_check_and_one_query(counted: Counted) -> None:
    await receive(counted.client, counted.clerk, counted.product, counted.location, 2)
    product_id = counted.product["id"]
    first = await counted.client.get(
        f"{API}/stock/movements?product_id={product_id}&limit=1", headers=counted.clerk
    )
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    reads = _reads(counted, cursor)
    for _ in range(2):  # warm: every statement prepared on the pooled connection
        for url, _trips in reads.values():
            assert (await counted.client.get(url, headers=counted.clerk)).status_code == 200
    for name, (url, trips) in reads.items():
        response, made = await counted.trips("GET", url)
        assert response.status_code == 200, (name, response.text)
        assert response.json(), name
        assert len(made) == trips, (name, made)
        assert not any(t.startswith(("BEGIN", "COMMIT")) for t in made), (name, made)


async def test_an_unknown_product_still_answers_404_in_two_round_trips(counted: Counted) -> None:
    for url in (f"{API}/products/{uuid.uuid4()}", f"{API}/products/{uuid.uuid4()}/stock"):
        for _ in range(2):
            await counted.client.get(url, headers=counted.clerk)
        response, made = await counted.trips("GET", url)
        assert response.status_code == 404, url
        assert response.json()["detail"] == "No product with this id"
        assert len(made) == 2, (url, made)


def _receipt(counted: Counted, quantity: int) -> dict[str, Any]:
    return {
        "product_id": counted.product["id"],
        "location_id": counted.location["id"],
        "kind": "receipt",
        "quantity": quantity,
    }


async def test_a_posting_takes_seven_round_trips_with_a_key_five_without(
    counted: Counted,
) -> None:
    url = f"{API}/stock/movements"
    for quantity in (1, 1):  # warm, each with a new key
        headers = {**counted.clerk, "Idempotency-Key": uuid.uuid4().hex}
        response = await counted.client.post(url, json=_receipt(counted, quantity), headers=headers)
        assert response.status_code == 201, response.text
        replay = await counted.client.post(url, json=_receipt(counted, quantity), headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
    headers = {**counted.clerk, "Idempotency-Key": uuid.uuid4().hex}
    response, made = await counted.trips("POST", url, json=_receipt(counted, 4), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["balance_after"] == 3 + 1 + 1 + 4
    assert len(made) == 7, made
    assert made[0].startswith("BEGIN"), made
    assert made[-1].startswith("COMMIT"), made
    again, replayed = await counted.trips("POST", url, json=_receipt(counted, 4), headers=headers)
    assert again.status_code == 201
    assert again.content == response.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(replayed) == 5, replayed
    # Without a key: no lock, no lookup, no stored response.
    issue = {**_receipt(counted, 2), "kind": "issue"}
    for _ in range(2):
        assert (await counted.client.post(url, json=issue, headers=counted.clerk)).is_success
    issued, made = await counted.trips("POST", url, json=issue)
    assert issued.status_code == 201, issued.text
    assert issued.json()["balance_after"] == 3 + 1 + 1 + 4 - 2 * 3
    assert len(made) == 5, made
    levels = await counted.client.get(
        f"{API}/stock/levels?product_id={counted.product['id']}", headers=counted.clerk
    )
    assert levels.json()["items"][0]["on_hand"] == 3


async def test_a_client_token_posts_a_movement_in_as_many_round_trips_as_a_user(
    counted: Counted,
) -> None:
    """The client's check (one query, as a person's session check) and its actor, written
    in the movement's own statement and the events' one: nothing more on the wire."""
    erp = counted.system
    url = f"{API}/stock/movements"
    trips: dict[tuple[str, bool], int] = {}
    for who, caller in (("user", counted.clerk), ("client", erp)):
        for keyed in (False, True):

            def headers(caller: dict[str, str] = caller, keyed: bool = keyed) -> dict[str, str]:
                return {**caller, "Idempotency-Key": uuid.uuid4().hex} if keyed else caller

            for _ in range(2):  # warm
                warm = await counted.client.post(url, json=_receipt(counted, 1), headers=headers())
                assert warm.status_code == 201, warm.text
            response, made = await counted.trips(
                "POST", url, json=_receipt(counted, 1), headers=headers()
            )
            assert response.status_code == 201, response.text
            assert response.json()["actor"]["type"] == who
            trips[who, keyed] = len(made)
    assert trips == {
        ("user", False): 5,
        ("user", True): 7,
        ("client", False): 5,
        ("client", True): 7,
    }


async def test_a_batch_costs_the_same_round_trips_for_any_number_of_lines(
    counted: Counted,
) -> None:
    # BEGIN, the check, the product and the location (FOR SHARE), the level's lock, its one
    # change, one INSERT of every line, the events, COMMIT: lines on known levels add none.
    url = f"{API}/stock/batches"

    def batch(lines: int) -> dict[str, Any]:
        return {"movements": [_receipt(counted, 1) for _ in range(lines)]}

    for _ in range(2):
        assert (await counted.client.post(url, json=batch(2), headers=counted.clerk)).is_success
    small, few = await counted.trips("POST", url, json=batch(2))
    assert small.status_code == 201, small.text
    large, many = await counted.trips("POST", url, json=batch(40))
    assert large.status_code == 201, large.text
    assert len(few) == len(many) == 9, many


async def test_a_client_token_without_stock_write_is_refused_and_posts_nothing(
    counted: Counted,
) -> None:
    url = f"{API}/stock/movements"
    refused = await counted.client.post(
        url, json=_receipt(counted, 5), headers=counted.system_reader
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/insufficient-scope")
    assert refused.json()["required_scope"] == "stock:write"
    forged = {"Authorization": "Bearer not-a-token"}
    unknown = await counted.client.post(url, json=_receipt(counted, 5), headers=forged)
    assert unknown.status_code == 401, unknown.text
    # The narrowed token still reads what it was given.
    readable = await counted.client.get(
        f"{API}/stock/levels?product_id={counted.product['id']}", headers=counted.system_reader
    )
    assert readable.status_code == 200, readable.text
    levels = await counted.client.get(
        f"{API}/stock/levels?product_id={counted.product['id']}", headers=counted.clerk
    )
    assert levels.json()["items"][0]["on_hand"] == 3
