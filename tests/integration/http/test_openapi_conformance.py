"""Real responses against the published OpenAPI document: every header of interest a response
carries is documented on that operation and status, every header documented as required is
sent, every member of a problem body is a documented property of Problem, and a body fits its
response schema, which requires every member the server always sends."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI

from src.models.user import User
from tests.support.apps import client_beside
from tests.support.factories import Headers, password_grant, refresh_grant
from tests.support.settings import make_settings
from tests.support.stock import new_location, new_product, on_hand, post_movement, receive

API = "/api/v1"
Document = dict[str, Any]

# The headers the document describes (src/api/openapi/headers.py).
TRACKED = (
    "X-Request-ID",
    "Location",
    "ETag",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "WWW-Authenticate",
)


@pytest.fixture
def document(app: FastAPI) -> Document:
    return app.openapi()


def _deref(document: Document, node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _value_fits(value: str, schema: dict[str, Any]) -> bool:
    if schema["type"] == "integer":
        return value.isdigit() and int(value) >= schema.get("minimum", 0)
    return value in schema.get("enum", [value])


def check_headers(
    document: Document, method: str, template: str, response: httpx.Response
) -> set[str]:
    """Assert the response's headers agree with the document; return those it carried."""
    operation = document["paths"][template][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template}: {status} undocumented"
    documented = {
        name.lower(): _deref(document, header)
        for name, header in operation["responses"][status].get("headers", {}).items()
    }
    sent = {name for name in TRACKED if name.lower() in response.headers}
    undocumented = {name for name in sent if name.lower() not in documented}
    assert not undocumented, f"{method} {template} {status} sends undocumented {undocumented}"
    missing = {n for n, h in documented.items() if h["required"] and n not in response.headers}
    assert not missing, f"{method} {template} {status} lacks required {missing}"
    for name in sent:
        header = documented[name.lower()]
        assert _value_fits(response.headers[name], header["schema"]), (name, response.headers)
    return sent


def check_problem(document: Document, response: httpx.Response) -> dict[str, Any]:
    """Assert every member of a problem body is a documented Problem property of its type."""
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    properties = document["components"]["schemas"]["Problem"]["properties"]
    assert set(body) <= set(properties), set(body) - set(properties)
    kinds = {"integer": int, "string": str, "array": list, "object": dict}
    for name, value in body.items():
        assert isinstance(value, kinds[properties[name]["type"]]), (name, value)
    return body


def check_body(
    document: Document, method: str, template: str, response: httpx.Response
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Assert a JSON answer fits the schema its operation and status publish; return the body
    and that schema."""
    media = response.headers["content-type"].split(";")[0]
    operation = document["paths"][template][method]
    content = operation["responses"][str(response.status_code)]["content"]
    schema = content[media]["schema"]
    body = response.json()
    # The document as the root, so the answer's $refs resolve in it.
    root = {"$ref": schema["$ref"], "components": document["components"]}
    errors = [e.message for e in jsonschema_rs.validator_for(root).iter_errors(body)]
    assert not errors, (method, template, errors)
    return body, _deref(document, schema)


async def test_answers_carry_exactly_what_their_schemas_require(
    client: httpx.AsyncClient, document: Document, viewer: User
) -> None:
    token = f"{API}/auth/token"
    login = await password_grant(client, viewer.email)
    assert login.status_code == 200
    body, schema = check_body(document, "post", token, login)
    # refresh_token on password and refresh grants (never on client credentials), and
    # device_token on a password grant only: the members not required.
    assert set(body) - set(schema["required"]) == {"device_token", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int)
    refreshed = await refresh_grant(client, body["refresh_token"])
    assert refreshed.status_code == 200
    body, schema = check_body(document, "post", token, refreshed)
    # No device_token (not even null), no scope.
    assert set(body) - set(schema["required"]) == {"refresh_token"}

    live = await client.get("/api/health")
    body, schema = check_body(document, "get", "/api/health", live)
    assert set(body) == set(schema["required"]) == {"status"}
    ready = await client.get("/api/health/ready")
    body, schema = check_body(document, "get", "/api/health/ready", ready)
    assert set(body) == set(schema["required"])
    assert body["checks"]["redis"] == {"status": "disabled"}  # no latency_ms, no detail
    assert isinstance(body["checks"]["database"]["latency_ms"], float)


async def test_catalog_answers_send_the_headers_they_document(
    client: httpx.AsyncClient, document: Document, manager_headers: Headers
) -> None:
    created = await client.post(
        f"{API}/products",
        json={"sku": f"OA-{uuid.uuid4().hex[:8]}", "name": "Widget"},
        headers=manager_headers,
    )
    assert created.status_code == 201
    sent = check_headers(document, "post", f"{API}/products", created)
    assert {"Location", "ETag", "X-Request-ID", "RateLimit-Limit"} <= sent
    item = f"{API}/products/{{product_id}}"
    url = created.headers["location"]
    assert url == f"{API}/products/{created.json()['id']}"

    read = await client.get(url, headers=manager_headers)
    assert "ETag" in check_headers(document, "get", item, read)
    unchanged = await client.get(
        url, headers={**manager_headers, "If-None-Match": read.headers["etag"]}
    )
    assert unchanged.status_code == 304
    assert "ETag" in check_headers(document, "get", item, unchanged)
    changed = await client.patch(
        url, json={"name": "Gadget"}, headers={**manager_headers, "If-Match": read.headers["etag"]}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != read.headers["etag"]
    check_headers(document, "patch", item, changed)
    listed = await client.get(f"{API}/products", headers=manager_headers)
    assert "ETag" not in check_headers(document, "get", f"{API}/products", listed)
    archived = await client.delete(url, headers=manager_headers)
    assert archived.status_code == 204
    check_headers(document, "delete", item, archived)
    assert (await client.get(url, headers=manager_headers)).json()["is_archived"] is True


async def test_locations_document_their_etag_too(
    client: httpx.AsyncClient, document: Document, manager_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    read = await client.get(f"{API}/locations/{location['id']}", headers=manager_headers)
    assert read.headers["etag"] == f'"v{location["version"]}"'
    assert "ETag" in check_headers(document, "get", f"{API}/locations/{{location_id}}", read)


async def test_a_replayed_posting_documents_idempotent_replayed(
    client: httpx.AsyncClient,
    document: Document,
    manager_headers: Headers,
    clerk_headers: Headers,
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    keyed = {**clerk_headers, "Idempotency-Key": f"oa-{uuid.uuid4()}"}
    movements = f"{API}/stock/movements"
    first = await post_movement(client, keyed, product, location, "receipt", 5)
    replay = await post_movement(client, keyed, product, location, "receipt", 5)
    assert [first.status_code, replay.status_code] == [201, 201]
    assert "Idempotent-Replayed" not in check_headers(document, "post", movements, first)
    assert "Idempotent-Replayed" in check_headers(document, "post", movements, replay)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]
    assert await on_hand(client, clerk_headers, product, location) == 5  # posted once
    # The same key with another body is a 422 problem; it documents what it sends too.
    reused = await post_movement(client, keyed, product, location, "receipt", 6)
    assert reused.status_code == 422
    check_headers(document, "post", movements, reused)
    check_problem(document, reused)


async def test_unauthenticated_answers_document_www_authenticate(
    client: httpx.AsyncClient, document: Document
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        refused = await client.get(f"{API}/products", headers=headers)
        assert refused.status_code == 401
        assert "WWW-Authenticate" in check_headers(document, "get", f"{API}/products", refused)
        check_problem(document, refused)
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_rate_limited_answer_documents_retry_after(
    app: FastAPI,
    database_url: str,
    tmp_path: Path,
    document: Document,
    viewer_headers: Headers,
) -> None:
    limited = make_settings(database_url, tmp_path, rate_limit_default="2/minute")
    async with client_beside(app, limited) as api:
        answers = [await api.get(f"{API}/users/me", headers=viewer_headers) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    for answer in answers:
        check_headers(document, "get", f"{API}/users/me", answer)
    assert "Retry-After" in check_headers(document, "get", f"{API}/users/me", answers[2])
    assert check_problem(document, answers[2])["type"] == "/problems/rate-limited"


async def test_unversioned_answers_carry_only_the_request_id(
    client: httpx.AsyncClient, document: Document
) -> None:
    live = await client.get("/api/health", headers={"X-Request-ID": "probe-1"})
    assert live.status_code == 200
    assert check_headers(document, "get", "/api/health", live) == {"X-Request-ID"}
    assert live.headers["x-request-id"] == "probe-1"


async def test_problem_members_are_documented(
    client: httpx.AsyncClient,
    document: Document,
    manager_headers: Headers,
    clerk_headers: Headers,
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, location, 3)

    short = await post_movement(client, clerk_headers, product, location, "issue", 4)
    assert short.status_code == 409
    check_headers(document, "post", f"{API}/stock/movements", short)
    assert check_problem(document, short)["available"] == 3

    item = f"{API}/products/{{product_id}}"
    url = f"{API}/products/{product['id']}"
    stale = await client.patch(
        url, json={"name": "Renamed"}, headers={**manager_headers, "If-Match": '"v0"'}
    )
    assert stale.status_code == 412
    check_headers(document, "patch", item, stale)
    assert check_problem(document, stale)["current_etag"] == f'"v{product["version"]}"'

    held = await client.delete(url, headers=manager_headers)
    assert held.status_code == 409
    check_headers(document, "delete", item, held)
    assert check_problem(document, held)["on_hand"] == 3

    invalid = await post_movement(client, clerk_headers, product, location, "issue", 0)
    assert invalid.status_code == 422
    assert check_problem(document, invalid)["errors"]
    # Nothing of it changed anything.
    assert await on_hand(client, clerk_headers, product, location) == 3
    assert (await client.get(url, headers=manager_headers)).json()["name"] == product["name"]


def test_the_helpers_catch_what_the_document_does_not_say(document: Document) -> None:
    request = httpx.Request("GET", "http://t/api/health")
    stray = httpx.Response(200, headers={"ETag": '"v1"', "X-Request-ID": "r"}, request=request)
    with pytest.raises(AssertionError, match="undocumented"):
        check_headers(document, "get", "/api/health", stray)
    bare = httpx.Response(200, request=request)
    with pytest.raises(AssertionError, match="lacks required"):
        check_headers(document, "get", "/api/health", bare)
    odd = httpx.Response(
        409, json={"type": "t", "surprise": 1}, headers={"content-type": "application/problem+json"}
    )
    with pytest.raises(AssertionError):
        check_problem(document, odd)
    token = httpx.Request("POST", "http://t/api/v1/auth/token")
    sent = {"access_token": "a", "expires_in": 60, "refresh_token": "r"}
    for body in (sent, {**sent, "token_type": "bearer", "device_token": None}):
        answer = httpx.Response(200, json=body, request=token)
        with pytest.raises(AssertionError):
            check_body(document, "post", f"{API}/auth/token", answer)
    assert check_body(document, "get", "/api/health", httpx.Response(200, json={"status": "ok"}))
