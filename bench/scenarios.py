"""The endpoints the benchmark drives, as request scripts for the virtual users.

Both servers get the same requests: the same paths, the same product ids in the same order
(each virtual user walks its own seeded random sequence), and the same receipts; only the
Idempotency-Keys differ, because both servers write to the same database as the same user
(or, in `client-token`, the same API client).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.infra import Dataset
from bench.load import UserScript

API = "/api/v1"


@dataclass(frozen=True)
class Target:
    name: str  # "stockroom" or "reference": part of every Idempotency-Key
    port: int
    token: str  # the bench manager's access token
    run_id: str  # distinguishes the keys of one run from any other's
    client_token: str = ""  # the bench API client's (client credentials grant), if needed

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            f"Authorization: Bearer {self.token}",
            "Accept: application/json",
        ]
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _ignore(status: int, body: bytes) -> None:
    return None


def _fixed(target: Target, path: str) -> Callable[[int], UserScript]:
    raw = target.request("GET", path)
    return lambda user: (lambda: raw, _ignore)


def _per_product(target: Target, data: Dataset, template: str) -> Callable[[int], UserScript]:
    ids = data.product_ids

    def script(user: int) -> UserScript:
        rng = random.Random(user)

        def make() -> bytes:
            return target.request("GET", template.format(id=rng.choice(ids)))

        return make, _ignore

    return script


AVAILABILITY_ASKED = 20  # products per availability call: a shop page's worth


def _availability(target: Target, data: Dataset) -> Callable[[int], UserScript]:
    """GET /stock/availability of 20 distinct random products, by id."""

    def script(user: int) -> UserScript:
        rng = random.Random(user)

        def make() -> bytes:
            asked = rng.sample(data.product_ids, AVAILABILITY_ASKED)
            query = "&".join(f"product_id={product_id}" for product_id in asked)
            return target.request("GET", f"{API}/stock/availability?{query}")

        return make, _ignore

    return script


ALLOCATION_LINES = 3
ALLOCATION_HOLD = 3600  # seconds: longer than any run


def _allocations(target: Target, data: Dataset) -> Callable[[int], UserScript]:
    """POST /stock/allocations of 3 lines of 1 unit, distinct random products that hold a
    level (the run tops every level up first: `seed_stock.top_up`), split allowed, no pins,
    each with a fresh Idempotency-Key. Nothing is released, and a hold outlasts the run
    (ALLOCATION_HOLD): one expiring meanwhile would make Stockroom's sweeper, and any order
    locking its level, expire it and settle its allocation during the measurements."""
    path = f"{API}/stock/allocations"
    stocked = sorted({product_id for product_id, _ in data.levels})

    def script(user: int) -> UserScript:
        rng, sequence = random.Random(user), [0]

        def make() -> bytes:
            sequence[0] += 1
            lines = [
                {"product_id": product_id, "quantity": 1}
                for product_id in rng.sample(stocked, ALLOCATION_LINES)
            ]
            order = {"reference": f"BENCH-{user}-{sequence[0]}", "lines": lines}
            body = json.dumps({**order, "split": True, "expires_in": ALLOCATION_HOLD}).encode()
            key = f"bench-{target.run_id}-{target.name}-{user}-{sequence[0]}"
            return target.request("POST", path, body, Idempotency_Key=key)

        return make, _ignore

    return script


def _receipts(target: Target, data: Dataset) -> Callable[[int], UserScript]:
    """POST receipts of 1 to existing levels, each with a fresh Idempotency-Key."""
    path = f"{API}/stock/movements"

    def script(user: int) -> UserScript:
        rng, sequence = random.Random(user), [0]

        def make() -> bytes:
            sequence[0] += 1
            product_id, location_id = rng.choice(data.levels)
            body = json.dumps(
                {
                    "product_id": product_id,
                    "location_id": location_id,
                    "kind": "receipt",
                    "quantity": 1,
                    "reference": f"BENCH-{user}",
                }
            ).encode()
            key = f"bench-{target.run_id}-{target.name}-{user}-{sequence[0]}"
            return target.request("POST", path, body, Idempotency_Key=key)

        return make, _ignore

    return script


def _deep_ledger(target: Target, data: Dataset) -> Callable[[int], UserScript]:
    """Page through the busiest product's ledger by next_cursor, newest first, starting
    over after the last page: each user walks hundreds of pages deep during a run, and a
    keyset page costs the same at any depth (if the index serves it)."""
    first = f"{API}/stock/movements?product_id={data.deep_product}&limit=20"

    def script(user: int) -> UserScript:
        cursor: list[str | None] = [None]

        def make() -> bytes:
            path = first if cursor[0] is None else f"{first}&cursor={cursor[0]}"
            return target.request("GET", path)

        def seen(status: int, body: bytes) -> None:
            cursor[0] = json.loads(body).get("next_cursor") if status == 200 else None

        return make, seen

    return script


FEED_PAGE = 100


def _deep_feed(target: Target, data: Dataset) -> Callable[[int], UserScript]:
    """Page through the change feed by next_cursor, 100 events a page, oldest first, from a
    random deep position: a real event id (signed as the servers sign them) picked from
    positions spread over the first 90% of the log. After a walk of full pages (up to 50)
    a user jumps to another random position, so the users read all over the log."""
    walk = max(1, min(50, data.events // 10 // FEED_PAGE))
    path = f"{API}/events?limit={FEED_PAGE}&after="

    def script(user: int) -> UserScript:
        rng, pages = random.Random(user), [0]
        after = [rng.choice(data.feed_starts)]

        def make() -> bytes:
            return target.request("GET", path + after[0])

        def seen(status: int, body: bytes) -> None:
            pages[0] += 1
            cursor = json.loads(body).get("next_cursor") if status == 200 else None
            if cursor is None or pages[0] % walk == 0:
                cursor = rng.choice(data.feed_starts)
            after[0] = cursor

        return make, seen

    return script


@dataclass(frozen=True)
class Scenario:
    name: str  # short name for --endpoints
    label: str  # what the table shows
    build: Callable[[Target, Dataset], Callable[[int], UserScript]]
    # Server-Sent-Events streams held open on Stockroom while it is measured (the reference
    # has none), each reading everything sent: GET of this path, `streams` times.
    streams: int = 0
    stream_path: str = f"{API}/stock/events"
    # Sent with the bench API client's token instead of the manager's.
    as_client: bool = False

    def stream_requests(self, port: int, tokens: list[str]) -> list[bytes]:
        """One raw GET per stream, spread over the viewers' tokens (a user's cap)."""
        return [
            (
                f"GET {self.stream_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {tokens[n % len(tokens)]}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
            for n in range(self.streams)
        ]

    def scripts(self, target: Target, data: Dataset, users: int) -> list[UserScript]:
        if self.as_client:
            target = dataclasses.replace(target, token=target.client_token)
        per_user = self.build(target, data)
        return [per_user(user) for user in range(users)]


SCENARIOS = [
    Scenario("me", f"GET {API}/users/me", lambda t, d: _fixed(t, f"{API}/users/me")),
    Scenario(
        "products",
        f"GET {API}/products?limit=20",
        lambda t, d: _fixed(t, f"{API}/products?limit=20"),
    ),
    Scenario(
        "product",
        f"GET {API}/products/{{id}}",
        lambda t, d: _per_product(t, d, API + "/products/{id}"),
    ),
    Scenario(
        "levels",
        f"GET {API}/stock/levels?product_id=",
        lambda t, d: _per_product(t, d, API + "/stock/levels?product_id={id}"),
    ),
    Scenario(
        "availability",
        f"GET {API}/stock/availability?product_id= (20 products)",
        _availability,
    ),
    Scenario("post-movement", f"POST {API}/stock/movements (receipt)", _receipts),
    # The same postings by an API client: compare its ratio with post-movement's.
    Scenario(
        "client-token",
        f"POST {API}/stock/movements (receipt, client token)",
        _receipts,
        as_client=True,
    ),
    Scenario(
        "post-movement-streams",
        f"POST {API}/stock/movements, 200 open /stock/events",
        _receipts,
        streams=200,
    ),
    Scenario(
        "post-movement-quiet-streams",
        f"POST {API}/stock/movements, 200 open filtered streams",
        _receipts,
        streams=200,
        stream_path=f"{API}/events/stream?types=shipment.canceled",
    ),
    Scenario("allocate", f"POST {API}/stock/allocations (3 lines)", _allocations),
    Scenario("ledger", f"GET {API}/stock/movements?product_id=&limit=20 (cursor)", _deep_ledger),
    Scenario("feed", f"GET {API}/events?limit=100&after= (cursor, deep)", _deep_feed),
]
