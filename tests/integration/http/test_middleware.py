"""Request ids, security headers, CORS and the access log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from src.config import Environment
from src.main import create_app
from tests.support.settings import TEST_SECRET_KEY, make_settings

UUID_LENGTH = 36


async def test_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert response.headers["x-request-id"] == "abc.DEF_123-x"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "new\u00e9line", "<script>"])
async def test_insane_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": bad.encode("utf-8")})
    echoed = response.headers["x-request-id"]
    assert echoed != bad
    assert len(echoed) == UUID_LENGTH


async def test_missing_request_id_is_generated(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/health")
    second = await client.get("/api/health")
    assert len(first.headers["x-request-id"]) == UUID_LENGTH
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_security_headers_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers


async def _get(
    app_settings_kwargs: dict[str, object],
    database_url: str,
    tmp_path: Path,
    path: str,
    **request: object,
) -> httpx.Response:
    app = create_app(make_settings(database_url, tmp_path, **app_settings_kwargs))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        return await client.request(url=path, **request)  # type: ignore[arg-type]


async def test_hsts_outside_development(database_url: str, tmp_path: Path) -> None:
    response = await _get(
        {"environment": Environment.PRODUCTION, "secret_key": TEST_SECRET_KEY},
        database_url,
        tmp_path,
        "/api/health",
        method="GET",
    )
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_preflight_for_allowed_origin(database_url: str, tmp_path: Path) -> None:
    response = await _get(
        {"cors_origins": ["https://app.example.com"]},
        database_url,
        tmp_path,
        "/api/v1/products",
        method="OPTIONS",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_cors_refuses_other_origin(database_url: str, tmp_path: Path) -> None:
    response = await _get(
        {"cors_origins": ["https://app.example.com"]},
        database_url,
        tmp_path,
        "/api/health",
        method="GET",
        headers={"Origin": "https://evil.example.net"},
    )
    assert "access-control-allow-origin" not in response.headers


EXPOSED = {
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
    "idempotent-replayed",
    "etag",
    "location",
    "x-request-id",
}


def _exposed(response: httpx.Response) -> set[str]:
    value = response.headers.get("access-control-expose-headers", "")
    return {name.strip().lower() for name in value.split(",") if name.strip()}


async def test_cors_exposes_the_headers_clients_need(database_url: str, tmp_path: Path) -> None:
    """A browser script can read only exposed headers: rate limits, replays, ETag, Location."""
    response = await _get(
        {"cors_origins": ["https://app.example.com"], "rate_limit_default": "50/minute"},
        database_url,
        tmp_path,
        "/api/v1/products",
        method="GET",
        headers={"Origin": "https://app.example.com"},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert _exposed(response) >= EXPOSED
    # Every RateLimit-* header the limiter actually sends is among the exposed ones.
    sent = {name.lower() for name in response.headers if name.lower().startswith("ratelimit-")}
    assert sent == {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}
    assert sent <= _exposed(response)


async def test_cors_allows_no_other_origin_to_read(database_url: str, tmp_path: Path) -> None:
    response = await _get(
        {"cors_origins": ["https://app.example.com"]},
        database_url,
        tmp_path,
        "/api/v1/products",
        method="GET",
        headers={"Origin": "https://evil.example.net"},
    )
    # Without Access-Control-Allow-Origin the browser hides the response, exposed or not.
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


async def test_no_cors_headers_without_configured_origins(
    database_url: str, tmp_path: Path
) -> None:
    response = await _get(
        {},
        database_url,
        tmp_path,
        "/api/v1/products",
        method="GET",
        headers={"Origin": "https://app.example.com"},
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-expose-headers" not in response.headers


async def test_access_log_line_has_route_template_and_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.get("/api/health/ready", headers={"X-Request-ID": "log-me-1"})
    await client.get("/api/v1/missing/123")
    lines = [
        r.msg for r in caplog.records if r.name == "stockroom.access" and isinstance(r.msg, dict)
    ]
    assert len(lines) == 2
    ready, missing = lines
    assert ready["route"] == "/api/health/ready"
    assert ready["status"] == 200
    assert ready["method"] == "GET"
    assert ready["request_id"] == "log-me-1"
    assert ready["duration_ms"] >= 0
    assert missing["route"] == "<unmatched>"
    assert missing["status"] == 404


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Stockroom"
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/api/v1/openapi.json" in docs.text


async def test_access_log_reports_the_full_template_of_versioned_routes(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.get("/api/v1/users/0190a000-0000-7000-8000-000000000000")
    lines = [
        r.msg for r in caplog.records if r.name == "stockroom.access" and isinstance(r.msg, dict)
    ]
    assert lines[-1]["route"] == "/api/v1/users/{user_id}"
    assert lines[-1]["status"] == 401


async def test_swagger_authorize_uses_the_token_endpoint(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    (scheme,) = schemes.values()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    me = spec["paths"]["/api/v1/users/me"]["get"]
    assert me["security"]
    assert "401" in me["responses"]
    problem = me["responses"]["401"]["content"]["application/problem+json"]
    assert problem["schema"]["$ref"].endswith("/Problem")
