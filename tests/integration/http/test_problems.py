"""Every error is an RFC 9457 problem with a request id; nothing leaks internals."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.support.probe_routes import DOMAIN_ERRORS, router

PROBLEM = "application/problem+json"


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing", headers={"X-Request-ID": "trace-42"})
    body = assert_problem(response, 404, "not-found")
    assert body["request_id"] == "trace-42"


async def test_wrong_method_is_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/health")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


async def test_valid_body_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/_probe/echo", json={"name": "bolt", "quantity": 3})
    assert response.status_code == 200
    assert response.json() == {"name": "bolt", "quantity": 3}


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/_probe/echo",
        content=b'{"name": "bolt", ',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "malformed-request")


async def test_wrong_content_type_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/_probe/echo", content=b"name=bolt", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 400, "malformed-request")


async def test_validation_error_is_422_with_errors_and_no_input_echo(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/_probe/echo", json={"name": "hunter2-secret", "quantity": "many"}
    )
    body = assert_problem(response, 422, "validation-error")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["loc"] == ["body", "quantity"]
    assert set(errors[0]) == {"loc", "msg", "type"}
    assert "hunter2-secret" not in response.text


async def test_unknown_field_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/_probe/echo", json={"name": "bolt", "quantity": 1, "role": "admin"}
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["type"] == "extra_forbidden"  # type: ignore[index]


@pytest.mark.parametrize("slug", sorted(DOMAIN_ERRORS))
async def test_domain_errors_map_to_problems(client: httpx.AsyncClient, slug: str) -> None:
    error = DOMAIN_ERRORS[slug]
    response = await client.get(f"/api/v1/_probe/domain/{slug}")
    body = assert_problem(response, error.status, slug)
    assert body["detail"] == error.detail


async def test_unauthorized_carries_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/_probe/domain/unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_rate_limited_carries_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/_probe/domain/rate-limited")
    assert response.headers["retry-after"] == "7"


async def test_unhandled_exception_is_generic_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/api/v1/_probe/crash")
    body = assert_problem(response, 500, "internal-error")
    assert "SELECT" not in response.text
    assert "internal.py" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    # The traceback goes to the log, tagged with the same request id.
    logged = [r for r in caplog.records if isinstance(r.msg, dict)]
    crash = [r.msg for r in logged if r.msg.get("event") == "unhandled_exception"]
    assert crash
    assert crash[0]["request_id"] == body["request_id"]


async def test_body_over_limit_is_413_before_routing(client: httpx.AsyncClient) -> None:
    big = b"x" * (1024 * 1024 + 1)
    response = await client.post(
        "/api/v1/_probe/echo", content=big, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b" " * 65536

    response = await client.post(
        "/api/v1/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


async def test_body_at_limit_is_accepted(client: httpx.AsyncClient) -> None:
    payload = b'{"name": "bolt", "quantity": 1}'
    padded = payload + b" " * (1024 * 1024 - len(payload))
    response = await client.post(
        "/api/v1/_probe/echo", content=padded, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_database_unavailable_is_503_with_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/_probe/database-down")
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "1"
    assert "10.0.0.5" not in response.text
