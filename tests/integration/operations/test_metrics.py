"""GET /metrics: Prometheus text with requests by route template, pool use and domain counters."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from src.main import create_app
from tests.support.factories import Headers
from tests.support.metrics import sample
from tests.support.servers import serve_process
from tests.support.settings import TEST_SECRET_KEY, make_settings
from tests.support.stock import new_location, new_product, post_movement, receive


async def test_requests_are_counted_by_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    for _ in range(3):
        await client.get("/api/v1/products/0190a000-0000-7000-8000-000000000000")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = {"method": "GET", "route": "/api/v1/products/{product_id}", "status": "401"}
    name = "stockroom_http_requests_total"
    assert sample(response.text, name, **labels) - sample(before, name, **labels) == 3
    assert sample(response.text, "stockroom_http_request_duration_seconds_count", **labels) >= 3
    assert 'le="0.005"' in response.text
    assert "/api/v1/products/0190a000" not in response.text  # templates, not raw paths


async def test_pool_and_domain_counters(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    before = (await client.get("/metrics")).text
    await receive(client, clerk_headers, product, location, 5)
    keyed = {**clerk_headers, "Idempotency-Key": "metrics-1"}
    await post_movement(client, keyed, product, location, "issue", 1)
    await post_movement(client, keyed, product, location, "issue", 1)
    await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "nobody@example.com", "password": "wrong-one"},
    )
    after = (await client.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("stockroom_movements_posted_total", kind="receipt") == 1
    assert grew("stockroom_movements_posted_total", kind="issue") == 1
    assert grew("stockroom_idempotent_replays_total") == 1
    assert grew("stockroom_login_failures_total") == 1
    assert 'stockroom_db_pool_connections{state="in_use"}' in after
    assert 'stockroom_db_pool_connections{state="idle"}' in after


@pytest.mark.server
@pytest.mark.slow
def test_metrics_add_up_across_worker_processes(
    committed_database_url: str, tmp_path: Path
) -> None:
    """`serve --workers 2`: requests land on either worker; any scrape reports them all."""
    with serve_process(
        committed_database_url, tmp_path / "data", TEST_SECRET_KEY, "--workers", "2"
    ) as server:
        base = server.base
        for _ in range(40):  # new connections, spread over both workers
            httpx.get(f"{base}/api/health/ready", timeout=5)
        text = httpx.get(f"{base}/metrics", timeout=5).text
        served = sample(
            text, "stockroom_http_requests_total", route="/api/health/ready", status="200"
        )
        assert served == 40
        # Live workers' pool gauges are summed (multiprocess "livesum").
        assert 'stockroom_db_pool_connections{state="idle"}' in text


def series(text: str) -> set[str]:
    """Every sample's name and labels (values dropped): the set a scrape would store."""
    return {
        line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")
    }


@pytest.mark.slow
async def test_unmatched_requests_share_one_route_label(database_url: str, tmp_path: Path) -> None:
    """404s, trailing-slash redirects, CORS preflights and odd methods to 1,000 random paths
    add no series: each is counted under one fixed route (and method) label."""
    origin = "https://app.example.com"
    app = create_app(make_settings(database_url, tmp_path, cors_origins=[origin]))
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    foreign = {"Origin": "https://evil.example.net", "Access-Control-Request-Method": "GET"}

    async def probe(client: httpx.AsyncClient, kind: int, token: str) -> httpx.Response:
        if kind == 0:
            return await client.get(f"/api/v1/{token}")
        if kind == 1:
            return await client.get(f"/api/v1/products/{token}/")  # 307 to the slashless path
        if kind == 2:
            return await client.options(f"/{token}", headers=preflight)
        if kind == 3:
            return await client.options(f"/api/v1/{token}", headers=foreign)
        return await client.request(f"X{token[:8].upper()}", f"/{token}")

    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        expected = {0: 404, 1: 307, 2: 200, 3: 400}
        for kind in range(5):  # one of each kind first, so their fixed series exist
            response = await probe(client, kind, uuid.uuid4().hex)
            assert response.status_code == expected.get(kind, response.status_code)
        before = (await client.get("/metrics")).text
        tokens = [uuid.uuid4().hex for _ in range(1000)]
        for index, token in enumerate(tokens):
            await probe(client, index % 5, token)
        after = (await client.get("/metrics")).text

    assert series(after) == series(before)
    assert not any(token in after for token in tokens)
    name = "stockroom_http_requests_total"
    grown = sum(
        sample(after, name, route="<unmatched>", status=str(status))
        - sample(before, name, route="<unmatched>", status=str(status))
        for status in (404, 307, 200, 400, 405)
    )
    assert grown >= 800  # every kind but the odd methods, whose status the router decides
    assert sample(after, name, method="<other>", route="<unmatched>") >= 200


async def test_matched_routes_keep_their_templates(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/openapi.json")
    await client.delete("/api/health")  # 405: a route matched, by path only
    text = (await client.get("/metrics")).text
    name = "stockroom_http_requests_total"
    assert sample(text, name, method="GET", route="/api/v1/openapi.json", status="200") >= 1
    assert sample(text, name, method="DELETE", route="/api/health", status="405") >= 1
