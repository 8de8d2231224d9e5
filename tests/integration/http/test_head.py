"""HEAD answers wherever GET does: the GET's status and headers, no body; never a 405."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from src.main import create_app
from src.models.user import Role
from tests.support.factories import Headers, MakeUser, login_headers
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.stock import new_location, new_product

# Headers that differ between any two responses.
VARYING = {"x-request-id", "ratelimit-remaining", "ratelimit-reset", "date"}


def same_headers(head: httpx.Response, get: httpx.Response) -> None:
    assert head.content == b""
    expected = {k: v for k, v in get.headers.items() if k not in VARYING}
    assert {k: v for k, v in head.headers.items() if k not in VARYING} == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/{product}",
        "/api/v1/locations/{location}",
        "/api/v1/products",
        "/api/v1/stock/levels",
        "/api/v1/users/me",
        "/api/v1/products/{product}/stock",
    ],
)
async def test_head_answers_the_get_headers_without_a_body(
    client: httpx.AsyncClient, manager_headers: Headers, path: str
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    url = path.format(product=product["id"], location=location["id"])
    get = await client.get(url, headers=manager_headers)
    head = await client.head(url, headers=manager_headers)
    assert get.status_code == head.status_code == 200
    same_headers(head, get)
    assert int(head.headers["content-length"]) == len(get.content)


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/openapi.json", "/docs", "/metrics"])
async def test_head_works_on_the_unversioned_pages(client: httpx.AsyncClient, path: str) -> None:
    head = await client.head(path)
    assert head.status_code == 200
    assert head.content == b""


async def test_head_fails_as_get_does_without_a_body(
    client: httpx.AsyncClient, viewer_headers: Headers, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    anonymous = await client.head(f"/api/v1/products/{product['id']}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.content == b""
    missing = await client.head(
        "/api/v1/products/01900000-0000-7000-8000-000000000000", headers=viewer_headers
    )
    assert missing.status_code == 404
    assert missing.content == b""
    forbidden = await client.head("/api/v1/users", headers=viewer_headers)
    assert forbidden.status_code == 403
    # No GET there: HEAD is as refused as GET, with the methods that exist.
    post_only = await client.head("/api/v1/auth/token")
    assert post_only.status_code == 405
    assert post_only.headers["allow"] == "POST"
    assert post_only.content == b""
    # Conditional HEAD revalidates like a conditional GET.
    fresh = await client.head(
        f"/api/v1/products/{product['id']}", headers={**viewer_headers, "If-None-Match": '"v1"'}
    )
    assert fresh.status_code == 304
    assert fresh.headers["etag"] == '"v1"'
    # HEAD changed nothing.
    read = await client.get(f"/api/v1/products/{product['id']}", headers=viewer_headers)
    assert read.json()["version"] == 1


async def test_head_is_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    assert all("head" not in operations for operations in document["paths"].values())


async def test_head_on_the_event_stream_answers_at_once_and_frees_its_slot(
    committed_database_url: str,
    tmp_path: Path,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
) -> None:
    clerk = await login_headers(committed_client, await committed_make_user(role=Role.CLERK))
    app = create_app(
        make_settings(committed_database_url, tmp_path / "head", sse_max_streams_per_user=1)
    )
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=5) as client:
        for _ in range(3):  # a slot left taken would make the next one a 429
            head = await client.head("/api/v1/stock/events", headers=clerk)
            assert head.status_code == 200
            assert head.headers["content-type"].startswith("text/event-stream")
            assert head.content == b""
            for _ in range(100):
                if app.state.broker.stream_count == 0:
                    break
                await asyncio.sleep(0.05)
            assert app.state.broker.stream_count == 0
        assert (await client.head("/api/v1/stock/events")).status_code == 401
