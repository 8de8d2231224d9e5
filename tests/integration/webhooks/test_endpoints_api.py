"""The webhook endpoints API (admins): register, list, read, change, delete, rotate the secret,
queue a test event, and look after deliveries (list, retry, recover, pause).

In-process apps deliver nothing (webhook_concurrency=0), so a queued delivery stays pending
until the test changes it; targets are public IP literals, accepted without DNS.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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
    send_test,
)

READ_FIELDS = {
    "id",
    "url",
    "event_types",
    "description",
    "is_active",
    "disabled_reason",
    "created_at",
    "updated_at",
}


def secret_bytes(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


# ---------------------------------------------------------------- create, list, read


async def test_create_answers_201_with_location_and_a_secret_shown_once(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.post(
        WEBHOOKS,
        json={
            "url": PUBLIC_URL,
            "event_types": ["shipment.created", "movement.created", "shipment.created"],
            "description": "ERP sync",
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == READ_FIELDS | {"secret"}
    assert response.headers["location"] == f"{WEBHOOKS}/{created['id']}"
    assert len(secret_bytes(created["secret"])) == 32
    # Stored sorted and once each.
    assert created["event_types"] == ["movement.created", "shipment.created"]
    assert (created["url"], created["description"]) == (PUBLIC_URL, "ERP sync")
    assert (created["is_active"], created["disabled_reason"]) == (True, None)

    shown = await client.get(response.headers["location"], headers=admin_headers)
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert shown.json() == {k: v for k, v in created.items() if k != "secret"}
    listed = await hooks(client, admin_headers)
    assert [h["id"] for h in listed] == [created["id"]]
    assert "secret" not in listed[0]


async def test_two_endpoints_get_different_secrets_and_empty_types_mean_all(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    one = await new_hook(client, admin_headers)
    two = await new_hook(client, admin_headers)
    assert one["secret"] != two["secret"]
    assert one["event_types"] == two["event_types"] == []
    assert one["description"] is None


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": PUBLIC_URL, "event_types": ["movement.teleported"]}, ["body", "event_types", 0]),
        ({"url": PUBLIC_URL, "event_types": ["webhook.test"]}, ["body", "event_types", 0]),
        ({"url": "ftp://93.184.215.14/hooks"}, ["body", "url"]),
        ({"url": "93.184.215.14/hooks"}, ["body", "url"]),
        ({"url": "https://93.184.215.14/a b"}, ["body", "url"]),
        ({"url": "https://93.184.215.14/hooks#frag"}, ["body", "url"]),
        ({"event_types": []}, ["body", "url"]),
        ({"url": PUBLIC_URL, "secret": "whsec_mine"}, ["body", "secret"]),
        ({"url": PUBLIC_URL, "description": "x" * 501}, ["body", "description"]),
    ],
)
async def test_create_refuses_bad_bodies_and_creates_nothing(
    client: httpx.AsyncClient, admin_headers: Headers, body: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(WEBHOOKS, json=body, headers=admin_headers)
    assert_problem(response, 422, "validation-error")
    assert loc in error_locs(response)
    assert "location" not in response.headers
    assert await hooks(client, admin_headers) == []


async def test_list_pages_newest_first_by_cursor(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    first = await new_hook(client, admin_headers, description="first")
    second = await new_hook(client, admin_headers, description="second")
    page = await client.get(WEBHOOKS, params={"limit": "1"}, headers=admin_headers)
    assert page.status_code == 200
    assert [h["id"] for h in page.json()["items"]] == [second["id"]]
    cursor = page.json()["next_cursor"]
    assert cursor
    following = await client.get(
        WEBHOOKS, params={"limit": "1", "cursor": cursor}, headers=admin_headers
    )
    assert following.status_code == 200
    assert [h["id"] for h in following.json()["items"]] == [first["id"]]
    assert following.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "status", "slug", "loc"),
    [
        ({"limit": "0"}, 422, "validation-error", ["query", "limit"]),
        ({"limit": "many"}, 422, "validation-error", ["query", "limit"]),
        # The endpoints list has no filters: its deliveries' `status` is an unknown parameter.
        ({"status": "pending"}, 422, "validation-error", ["query", "status"]),
        ({"cursor": "not-a-cursor"}, 400, "malformed-request", None),
    ],
)
async def test_list_refuses_bad_paging_and_unknown_parameters(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    params: dict[str, str],
    status: int,
    slug: str,
    loc: list[str] | None,
) -> None:
    await new_hook(client, admin_headers)
    response = await client.get(WEBHOOKS, params=params, headers=admin_headers)
    assert_problem(response, status, slug)
    if loc is not None:
        assert error_locs(response) == [loc]
    assert len(await hooks(client, admin_headers)) == 1


async def test_a_deliveries_cursor_does_not_page_the_endpoints(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    for _ in range(2):
        await send_test(client, admin_headers, created["id"])
    page = await client.get(
        f"{WEBHOOKS}/{created['id']}/deliveries", params={"limit": "1"}, headers=admin_headers
    )
    cursor = page.json()["next_cursor"]
    assert cursor
    response = await client.get(WEBHOOKS, params={"cursor": cursor}, headers=admin_headers)
    assert_problem(response, 400, "malformed-request")


# ---------------------------------------------------------------- change and delete


async def test_patch_changes_each_field_and_get_shows_it(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers, description="old")
    url = f"{WEBHOOKS}/{created['id']}"
    changes: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"url": "https://93.184.215.15/v2"}, {"url": "https://93.184.215.15/v2"}),
        (
            {"event_types": ["reservation.created", "movement.created", "movement.created"]},
            {"event_types": ["movement.created", "reservation.created"]},
        ),
        ({"description": "new"}, {"description": "new"}),
        ({"description": None}, {"description": None}),
        ({"event_types": []}, {"event_types": []}),
    ]
    for body, expected in changes:
        response = await client.patch(url, json=body, headers=admin_headers)
        assert response.status_code == 200, response.text
        assert "secret" not in response.json()
        shown = await hook(client, admin_headers, created["id"])
        assert {k: shown[k] for k in expected} == expected
        assert response.json() == shown
    assert shown["is_active"] is True
    assert shown["id"] == created["id"]


@pytest.mark.parametrize("field", ["url", "event_types", "is_active"])
async def test_patch_refuses_null_for_required_fields(
    client: httpx.AsyncClient, admin_headers: Headers, field: str
) -> None:
    created = await new_hook(client, admin_headers, event_types=["movement.created"])
    response = await client.patch(
        f"{WEBHOOKS}/{created['id']}", json={field: None}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "validation-error")
    assert f"{field} cannot be null" in str(problem["errors"])
    assert await hook(client, admin_headers, created["id"]) == {
        k: v for k, v in created.items() if k != "secret"
    }


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"secret": "whsec_mine"}, ["body", "secret"]),
        ({"disabled_reason": None}, ["body", "disabled_reason"]),
        ({"url": "not a url"}, ["body", "url"]),
        ({"url": "gopher://93.184.215.14/"}, ["body", "url"]),
        ({"event_types": ["stock.stolen"]}, ["body", "event_types", 0]),
        ({"is_active": "maybe"}, ["body", "is_active"]),
    ],
)
async def test_patch_refuses_unknown_fields_and_bad_values_and_changes_nothing(
    client: httpx.AsyncClient, admin_headers: Headers, body: dict[str, Any], loc: list[Any]
) -> None:
    created = await new_hook(client, admin_headers)
    response = await client.patch(f"{WEBHOOKS}/{created['id']}", json=body, headers=admin_headers)
    assert_problem(response, 422, "validation-error")
    assert loc in error_locs(response)
    shown = await hook(client, admin_headers, created["id"])
    assert shown == {k: v for k, v in created.items() if k != "secret"}


async def test_delete_removes_the_endpoint_and_its_deliveries(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    doomed = await new_hook(client, admin_headers)
    kept = await new_hook(client, admin_headers)
    await send_test(client, admin_headers, doomed["id"])
    await send_test(client, admin_headers, kept["id"])
    url = f"{WEBHOOKS}/{doomed['id']}"
    response = await client.delete(url, headers=admin_headers)
    assert response.status_code == 204
    assert response.content == b""

    assert_problem(await client.get(url, headers=admin_headers), 404, "not-found")
    assert_problem(await client.delete(url, headers=admin_headers), 404, "not-found")
    gone = await client.get(f"{url}/deliveries", headers=admin_headers)
    assert_problem(gone, 404, "not-found")
    left = await connection.scalar(
        text("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :id"),
        {"id": doomed["id"]},
    )
    assert left == 0
    assert [h["id"] for h in await hooks(client, admin_headers)] == [kept["id"]]
    assert len(await deliveries(client, admin_headers, kept["id"])) == 1


# ---------------------------------------------------------------- secrets


async def test_rotate_returns_a_new_secret_that_get_never_shows(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await new_hook(client, admin_headers)
    response = await client.post(f"{WEBHOOKS}/{created['id']}/rotate-secret", headers=admin_headers)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["id"] == created["id"]
    assert rotated["secret"] != created["secret"]
    assert len(secret_bytes(rotated["secret"])) == 32
    again = await client.post(f"{WEBHOOKS}/{created['id']}/rotate-secret", headers=admin_headers)
    assert again.json()["secret"] not in (created["secret"], rotated["secret"])
    shown = await hook(client, admin_headers, created["id"])
    assert "secret" not in shown
    assert shown["url"] == created["url"]


async def test_rotate_refuses_unknown_and_malformed_ids_and_a_body(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    unknown = await client.post(f"{WEBHOOKS}/{UNKNOWN}/rotate-secret", headers=admin_headers)
    assert_problem(unknown, 404, "not-found")
    malformed = await client.post(f"{WEBHOOKS}/nope/rotate-secret", headers=admin_headers)
    assert_problem(malformed, 422, "validation-error")
    assert "whsec_" not in unknown.text + malformed.text
