"""Who may use the webhook API and where it may point: admins only; targets on loopback,
private or link-local addresses (or names resolving there) refused unless
WEBHOOK_ALLOW_PRIVATE_TARGETS; https required outside development; unknown ids 404 and
malformed ones 422 on every route. Nothing is created or changed by a refusal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.config import Settings
from src.models.user import Role
from tests.support.apps import client_beside
from tests.support.factories import MakeUser, login_headers
from tests.support.settings import make_settings
from tests.support.webhook_api import (
    PUBLIC_URL,
    UNKNOWN,
    WEBHOOKS,
    Headers,
    assert_problem,
    deliveries,
    error_locs,
    hook,
    hooks,
    new_hook,
)

# Random-looking, 48 characters, no placeholder word: what production's check accepts.
PRODUCTION_KEY = "q7Vd2LmX9tRb4NwK8sHf1YcJ6pZg3UaE0oTiW5nBrMkQxGvC"
SSRF_URLS = [
    "http://127.0.0.1/hooks",
    "http://[::1]/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://localhost/hooks",
    "https://localhost:8443/hooks",
    "http://0.0.0.0/hooks",
    "http://192.168.1.10/hooks",
    "http://100.64.0.1/hooks",
    "http://[fd00::1]/hooks",
    "http://[fe80::1]/hooks",
]
# Every route on one endpoint: (method, path after /webhooks/{id}, body).
ONE_ENDPOINT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("PATCH", "", {"description": "changed"}),
    ("DELETE", "", None),
    ("POST", "/rotate-secret", None),
    ("POST", "/test", None),
    ("GET", "/deliveries", None),
    ("POST", f"/deliveries/{UNKNOWN}/retry", None),
    ("POST", "/recover", {"since": "2026-01-31T12:00:00Z"}),
]


def without_secret(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in endpoint.items() if k != "secret"}


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    headers: Headers,
) -> httpx.Response:
    return await client.request(method, url, json=body, headers=headers)


# ---------------------------------------------------------------- SSRF


@pytest.mark.parametrize("url", SSRF_URLS)
async def test_a_private_target_is_refused_and_nothing_is_created(
    client: httpx.AsyncClient, admin_headers: Headers, url: str
) -> None:
    response = await client.post(WEBHOOKS, json={"url": url}, headers=admin_headers)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "url"]
    assert "location" not in response.headers
    assert "whsec_" not in response.text
    assert await hooks(client, admin_headers) == []


async def test_a_name_is_refused_without_naming_itself_or_the_address_it_resolves_to(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.post(
        WEBHOOKS, json={"url": "http://localhost:8080/hooks"}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["msg"].startswith("the webhook host does not resolve to public")
    assert "localhost" not in response.text  # problems never echo input (rule 9)
    assert "127.0.0.1" not in response.text
    assert "::1" not in response.text


async def test_a_name_resolving_privately_or_not_at_all_is_refused_in_the_same_words(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    messages = []
    for host in ("localhost", "no-such-host.invalid"):
        response = await client.post(
            WEBHOOKS, json={"url": f"https://{host}/hooks"}, headers=admin_headers
        )
        problem = assert_problem(response, 422, "validation-error")
        assert error_locs(response) == [["body", "url"]]
        assert host not in response.text
        messages.append(problem["errors"][0]["msg"])
    assert (
        messages[0]
        == messages[1]
        == (
            "the webhook host does not resolve to public addresses only; private targets "
            "need WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)"
        )
    )
    assert await hooks(client, admin_headers) == []


async def test_a_refused_patch_names_the_setting_and_changes_nothing(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    response = await client.patch(
        f"{WEBHOOKS}/{created['id']}",
        json={"url": "https://no-such-host.invalid/hooks"},
        headers=admin_headers,
    )
    problem = assert_problem(response, 422, "validation-error")
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)" in problem["errors"][0]["msg"]
    assert "no-such-host" not in response.text
    assert await hook(client, admin_headers, created["id"]) == without_secret(created)


@pytest.mark.parametrize("url", SSRF_URLS)
async def test_patching_the_url_to_a_private_target_is_refused_and_keeps_the_old_one(
    client: httpx.AsyncClient, admin_headers: Headers, url: str
) -> None:
    created = await new_hook(client, admin_headers)
    response = await client.patch(
        f"{WEBHOOKS}/{created['id']}",
        json={"url": url, "description": "moved"},
        headers=admin_headers,
    )
    assert_problem(response, 422, "validation-error")
    assert error_locs(response) == [["body", "url"]]
    assert await hook(client, admin_headers, created["id"]) == without_secret(created)


async def test_private_targets_are_accepted_when_allowed(
    app: FastAPI, settings: Settings, make_user: MakeUser
) -> None:
    webhooks = settings.webhooks.model_copy(update={"webhook_allow_private_targets": True})
    allowing = settings.model_copy(update={"webhooks": webhooks})
    async with client_beside(app, allowing) as client:
        admin = await login_headers(client, await make_user(role=Role.ADMIN))
        local = await new_hook(client, admin, "http://127.0.0.1:9/hooks")
        named = await new_hook(client, admin, "http://localhost:9/hooks")
        moved = await client.patch(
            f"{WEBHOOKS}/{local['id']}", json={"url": "http://[::1]:9/x"}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        # Still only http(s) URLs with a host that resolves.
        bad = await client.post(
            WEBHOOKS, json={"url": "http://no-such-host.invalid/hooks"}, headers=admin
        )
        assert_problem(bad, 422, "validation-error")
        assert error_locs(bad) == [["body", "url"]]
        listed = await hooks(client, admin)
    assert {(h["id"], h["url"]) for h in listed} == {
        (local["id"], "http://[::1]:9/x"),
        (named["id"], "http://localhost:9/hooks"),
    }


# ---------------------------------------------------------------- https outside development


@pytest.mark.parametrize("environment", ["production", "staging"])
async def test_outside_development_http_is_refused_and_https_accepted(
    app: FastAPI, database_url: str, tmp_path: Path, make_user: MakeUser, environment: str
) -> None:
    deployed = make_settings(
        database_url, tmp_path, environment=environment, secret_key=PRODUCTION_KEY
    )
    assert not deployed.is_development
    async with client_beside(app, deployed) as client:
        admin = await login_headers(client, await make_user(role=Role.ADMIN))
        plain = await client.post(
            WEBHOOKS, json={"url": "http://93.184.215.14/hooks"}, headers=admin
        )
        problem = assert_problem(plain, 422, "validation-error")
        assert problem["errors"][0]["loc"] == ["body", "url"]
        assert "https" in problem["errors"][0]["msg"]
        assert await hooks(client, admin) == []

        created = await new_hook(client, admin, PUBLIC_URL)
        downgraded = await client.patch(
            f"{WEBHOOKS}/{created['id']}",
            json={"url": "http://93.184.215.14/hooks"},
            headers=admin,
        )
        assert_problem(downgraded, 422, "validation-error")
        private = await client.post(WEBHOOKS, json={"url": "https://10.0.0.1/hooks"}, headers=admin)
        assert_problem(private, 422, "validation-error")
        assert [h["url"] for h in await hooks(client, admin)] == [PUBLIC_URL]


# ---------------------------------------------------------------- access


async def test_no_token_is_401_on_every_route(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    assert_problem(await client.get(WEBHOOKS), 401, "unauthorized")
    assert_problem(await client.post(WEBHOOKS, json={"url": PUBLIC_URL}), 401, "unauthorized")
    for method, path, body in ONE_ENDPOINT_ROUTES:
        response = await call(client, method, f"{WEBHOOKS}/{created['id']}{path}", body, {})
        assert_problem(response, 401, "unauthorized")
    assert await hooks(client, admin_headers) == [without_secret(created)]


@pytest.mark.parametrize("role", ["viewer", "manager", "clerk"])
async def test_only_admins_may_use_webhooks(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    viewer_headers: Headers,
    manager_headers: Headers,
    clerk_headers: Headers,
    role: str,
) -> None:
    headers = {"viewer": viewer_headers, "manager": manager_headers, "clerk": clerk_headers}[role]
    created = await new_hook(client, admin_headers)
    create = await client.post(WEBHOOKS, json={"url": PUBLIC_URL}, headers=headers)
    assert_problem(create, 403, "forbidden")
    assert "whsec_" not in create.text
    listed = await client.get(WEBHOOKS, headers=headers)
    assert_problem(listed, 403, "forbidden")
    assert created["id"] not in listed.text
    for method, path, body in ONE_ENDPOINT_ROUTES:
        response = await call(client, method, f"{WEBHOOKS}/{created['id']}{path}", body, headers)
        assert_problem(response, 403, "forbidden")
    assert await hooks(client, admin_headers) == [without_secret(created)]
    assert await deliveries(client, admin_headers, created["id"]) == []


@pytest.mark.parametrize(("method", "path", "body"), ONE_ENDPOINT_ROUTES)
async def test_an_unknown_endpoint_is_404_on_every_route(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    kept = await new_hook(client, admin_headers)
    response = await call(client, method, f"{WEBHOOKS}/{UNKNOWN}{path}", body, admin_headers)
    problem = assert_problem(response, 404, "not-found")
    assert "webhook endpoint" in problem["detail"]
    assert await hooks(client, admin_headers) == [without_secret(kept)]
    assert await deliveries(client, admin_headers, kept["id"]) == []


@pytest.mark.parametrize(("method", "path", "body"), ONE_ENDPOINT_ROUTES)
async def test_a_malformed_endpoint_id_is_422_on_every_route(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = await call(client, method, f"{WEBHOOKS}/not-a-uuid{path}", body, admin_headers)
    assert_problem(response, 422, "validation-error")
    assert ["path", "webhook_id"] in error_locs(response)
    assert await hooks(client, admin_headers) == []
