"""Every response carries the security headers, whichever layer produced it, and every
error is a problem document with the request id: the general rate limiter's 429, CORS
preflights, the body limit's 413, and tokens whose claims are out of any date's range."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.dependencies import get_database
from src.main import create_app
from src.models.user import User
from tests.support.factories import access_claims, bearer, login_headers, sign_token
from tests.support.settings import TEST_SECRET_KEY, make_settings

PROBLEM = "application/problem+json"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'none'",
}
ORIGIN = "https://app.example.com"
ME = "/api/v1/users/me"


def assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["request_id"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert_secured(response)
    return body


@pytest.fixture
async def strict(app: FastAPI, database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """An app with a tight general limit and CORS for one origin, on the test's database."""
    strict = create_app(
        make_settings(database_url, tmp_path, rate_limit_default="2/minute", cors_origins=[ORIGIN])
    )
    strict.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    async with LifespanManager(strict):
        yield strict


def _client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 1)), base_url="http://t"
    )


async def test_the_general_limiters_429_is_a_secured_problem(
    strict: FastAPI, client: httpx.AsyncClient, viewer: User
) -> None:
    headers = await login_headers(client, viewer)
    async with _client(strict) as api:
        answers = [await api.get(ME, headers={**headers, "Origin": ORIGIN}) for _ in range(3)]
    assert [r.status_code for r in answers[:2]] == [200, 200]
    for answer in answers[:2]:
        assert_secured(answer)
    refused = answers[2]
    assert_problem(refused, 429, "rate-limited")
    assert refused.headers["retry-after"]
    assert refused.headers["ratelimit-remaining"] == "0"
    # A browser can read the refusal: CORS still applies to it.
    assert refused.headers["access-control-allow-origin"] == ORIGIN


async def test_a_cors_preflight_carries_the_security_headers(strict: FastAPI) -> None:
    async with _client(strict) as api:
        response = await api.options(
            "/api/health",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-request-id"]
    assert_secured(response)


async def test_a_refused_cors_preflight_is_a_secured_problem(strict: FastAPI) -> None:
    async with _client(strict) as api:
        other_origin = await api.options(
            "/api/health",
            headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "GET"},
        )
        bad_method = await api.options(
            "/api/health", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
        )
    for refused in (other_origin, bad_method):
        body = assert_problem(refused, 400, "malformed-request")
        assert "CORS" in str(body["detail"])
    assert "access-control-allow-origin" not in other_origin.headers


async def test_a_body_over_the_limit_is_a_secured_problem(client: httpx.AsyncClient) -> None:
    declared = await client.post(
        "/api/v1/products", content=b"x" * (1024 * 1024 + 1), headers={"X-Request-ID": "big-1"}
    )
    body = assert_problem(declared, 413, "payload-too-large")
    assert body["request_id"] == "big-1"


@pytest.mark.parametrize(
    "claim",
    [
        {"exp": 10**20},
        {"iat": 10**20},
        {"exp": 1e300},
        {"exp": float("inf")},
        {"iat": float("nan")},
    ],
    ids=["huge-exp", "huge-iat", "float-exp", "infinite-exp", "nan-iat"],
)
async def test_a_signed_token_with_out_of_range_dates_is_a_401_problem(
    client: httpx.AsyncClient, viewer: User, claim: dict[str, object]
) -> None:
    token = sign_token(access_claims(viewer.id, **claim), TEST_SECRET_KEY)
    for _ in range(2):  # the rate limiter and authentication both read the token
        response = await client.get(ME, headers=bearer(token))
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    # The owner's real token still works: nothing was spoiled by the bad one.
    assert (await client.get(ME, headers=await login_headers(client, viewer))).status_code == 200
