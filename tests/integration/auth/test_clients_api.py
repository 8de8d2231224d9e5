"""API clients managed by admins (/api/v1/clients): create with the secret shown once, list,
read, change, revoke, rotate; everyone else, and every client token, is refused."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import CLIENT_SCOPES
from src.models.user import Role, User
from tests.support.clients import CLIENTS, ClientHeaders, MakeApiClient, created_client
from tests.support.factories import Headers, MakeUser


async def test_create_shows_the_secret_once_and_stores_only_a_keyed_hash(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    response = await client.post(
        CLIENTS,
        json={
            "name": " Web shop ",
            "scopes": ["stock:read", "catalog:read", "stock:read"],
            "rate_limit": "300/minute",
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{CLIENTS}/{body['id']}"
    assert response.headers["cache-control"] == "no-store"
    assert body["name"] == "Web shop"
    assert body["scopes"] == ["catalog:read", "stock:read"]  # folded and sorted
    assert body["rate_limit"] == "300/minute"
    assert body["is_active"] is True
    assert body["last_used_at"] is None
    assert body["client_secret"].startswith("srs_")
    assert len(body["client_secret"]) >= 4 + 43  # 32 random bytes, base64url
    assert body["client_id"].startswith("sc_")
    row = (
        await connection.execute(
            text("SELECT secret_hash, client_id, created_by FROM api_clients WHERE id = :id"),
            {"id": body["id"]},
        )
    ).one()
    assert row.secret_hash != body["client_secret"]
    assert body["client_secret"] not in row.secret_hash
    assert row.client_id == body["client_id"]
    assert row.created_by is not None  # the admin

    read = await client.get(f"{CLIENTS}/{body['id']}", headers=admin_headers)
    assert read.status_code == 200
    assert "client_secret" not in read.json()
    assert read.json()["client_id"] == body["client_id"]
    listed = await client.get(CLIENTS, headers=admin_headers)
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    assert all("client_secret" not in item for item in listed.json()["items"])
    assert body["client_secret"] not in listed.text + read.text


async def test_two_clients_never_share_an_id_or_a_secret(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    one = await created_client(client, admin_headers, name="One")
    two = await created_client(client, admin_headers, name="Two")
    assert one["client_id"] != two["client_id"]
    assert one["client_secret"] != two["client_secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Shop", "scopes": []}, "scopes"),
        ({"name": "Shop", "scopes": ["users:manage"]}, "scopes"),
        ({"name": "Shop", "scopes": ["clients:manage"]}, "scopes"),
        ({"name": "Shop", "scopes": ["accounts"]}, "scopes"),
        ({"name": "Shop", "scopes": ["stock:read", "stock:fly"]}, "scopes"),
        ({"name": "Shop", "scopes": "stock:read"}, "scopes"),
        ({"name": " ", "scopes": ["stock:read"]}, "name"),
        ({"scopes": ["stock:read"]}, "name"),
        ({"name": "Shop", "scopes": ["stock:read"], "rate_limit": "lots"}, "rate_limit"),
        ({"name": "Shop", "scopes": ["stock:read"], "rate_limit": "0/minute"}, "rate_limit"),
        ({"name": "Shop", "scopes": ["stock:read"], "secret": "mine"}, "secret"),
    ],
)
async def test_bad_bodies_are_422_at_the_field(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    connection: AsyncConnection,
    body: dict[str, object],
    field: str,
) -> None:
    response = await client.post(CLIENTS, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert any(field in error["loc"] for error in response.json()["errors"])
    assert (await connection.scalar(text("SELECT count(*) FROM api_clients"))) == 0


async def test_a_people_only_scope_is_refused_with_a_clear_reason(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.post(
        CLIENTS,
        json={"name": "Shop", "scopes": ["stock:read", "users:manage"]},
        headers=admin_headers,
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "scopes", 1]
    assert "people only" in error["msg"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CLERK, Role.MANAGER])
async def test_people_below_admin_are_forbidden(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    make_user: MakeUser,
    headers_for: Callable[[User], Awaitable[Headers]],
    role: Role,
) -> None:
    headers = await headers_for(await make_user(role=role))
    existing = await created_client(client, admin_headers)
    attempts = [
        client.post(CLIENTS, json={"name": "X", "scopes": ["stock:read"]}, headers=headers),
        client.get(CLIENTS, headers=headers),
        client.get(f"{CLIENTS}/{existing['id']}", headers=headers),
        client.patch(f"{CLIENTS}/{existing['id']}", json={"name": "Y"}, headers=headers),
        client.delete(f"{CLIENTS}/{existing['id']}", headers=headers),
        client.post(
            f"{CLIENTS}/{existing['id']}/rotate-secret",
            json={"previous_valid_for_seconds": 0},
            headers=headers,
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/problems/forbidden")
    still = await client.get(f"{CLIENTS}/{existing['id']}", headers=admin_headers)
    assert still.json()["name"] == existing["name"]


async def test_a_client_token_cannot_manage_clients(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    connection: AsyncConnection,
) -> None:
    every = await make_api_client(scopes=CLIENT_SCOPES)
    headers = client_headers(every)
    created = await client.post(
        CLIENTS, json={"name": "Sneaky", "scopes": ["stock:read"]}, headers=headers
    )
    assert created.status_code == 403
    assert created.json()["type"].endswith("/problems/insufficient-scope")
    assert created.json()["required_scope"] == "clients:manage"
    assert (await client.get(CLIENTS, headers=headers)).status_code == 403
    assert (await client.get(f"{CLIENTS}/{every.id}", headers=headers)).status_code == 403
    count = await connection.scalar(text("SELECT count(*) FROM api_clients"))
    assert count == 1


async def test_anonymous_callers_get_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(CLIENTS)).status_code == 401
    response = await client.post(CLIENTS, json={"name": "X", "scopes": ["stock:read"]})
    assert response.status_code == 401


async def test_unknown_ids_are_404(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    unknown = f"{CLIENTS}/{uuid.uuid4()}"
    assert (await client.get(unknown, headers=admin_headers)).status_code == 404
    assert (
        await client.patch(unknown, json={"name": "X"}, headers=admin_headers)
    ).status_code == 404
    assert (await client.delete(unknown, headers=admin_headers)).status_code == 404
    rotated = await client.post(
        f"{unknown}/rotate-secret", json={"previous_valid_for_seconds": 0}, headers=admin_headers
    )
    assert rotated.status_code == 404
    assert (await client.get(f"{CLIENTS}/not-a-uuid", headers=admin_headers)).status_code == 422


async def test_update_changes_what_was_sent_only(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    created = await created_client(client, admin_headers, rate_limit="100/minute")
    url = f"{CLIENTS}/{created['id']}"
    response = await client.patch(
        url,
        json={"scopes": ["events:read", "events:read"], "rate_limit": "5/second"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scopes"] == ["events:read"]
    assert body["rate_limit"] == "5/second"
    assert body["name"] == "Shop"
    assert body["is_active"] is True
    assert "client_secret" not in body
    stored = await connection.scalar(
        text("SELECT scopes FROM api_clients WHERE id = :id"), {"id": created["id"]}
    )
    assert stored == ["events:read"]
    paused = await client.patch(url, json={"is_active": False}, headers=admin_headers)
    assert paused.json()["is_active"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"scopes": None},
        {"rate_limit": None},
        {"is_active": None},
        {"is_active": "no"},
        {"scopes": []},
        {"scopes": ["audit:read", "clients:manage"]},
        {"rate_limit": "fast"},
        {"client_id": "sc_mine"},
    ],
)
async def test_bad_updates_are_422_and_change_nothing(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    connection: AsyncConnection,
    body: dict[str, object],
) -> None:
    created = await created_client(client, admin_headers)
    response = await client.patch(f"{CLIENTS}/{created['id']}", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    row = (
        await connection.execute(
            text("SELECT scopes, rate_limit, is_active, client_id FROM api_clients WHERE id = :id"),
            {"id": created["id"]},
        )
    ).one()
    assert (row.scopes, row.rate_limit, row.is_active) == (created["scopes"], None, True)
    assert row.client_id == created["client_id"]


async def test_a_revoked_client_is_404_everywhere_and_its_row_stays(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    created = await created_client(client, admin_headers)
    url = f"{CLIENTS}/{created['id']}"
    response = await client.delete(url, headers=admin_headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(url, headers=admin_headers)).status_code == 404
    assert (
        await client.patch(url, json={"name": "Back"}, headers=admin_headers)
    ).status_code == 404
    assert (await client.delete(url, headers=admin_headers)).status_code == 404
    rotated = await client.post(
        f"{url}/rotate-secret", json={"previous_valid_for_seconds": 0}, headers=admin_headers
    )
    assert rotated.status_code == 404
    listed = await client.get(CLIENTS, headers=admin_headers)
    assert listed.json()["items"] == []
    revoked_at = await connection.scalar(
        text("SELECT revoked_at FROM api_clients WHERE id = :id"), {"id": created["id"]}
    )
    assert revoked_at is not None


async def test_list_filters_sorts_and_pages(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers, name="Web shop")
    erp = await created_client(client, admin_headers, name="ERP")
    board = await created_client(client, admin_headers, name="Dashboard")
    await client.patch(f"{CLIENTS}/{erp['id']}", json={"is_active": False}, headers=admin_headers)

    async def ids(**params: str) -> list[str]:
        response = await client.get(CLIENTS, params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [shop["id"], erp["id"], board["id"]]
    assert await ids(sort="-created_at") == [board["id"], erp["id"], shop["id"]]
    assert await ids(is_active="false") == [erp["id"]]
    assert await ids(q="SHOP") == [shop["id"]]
    first = await client.get(CLIENTS, params={"limit": "2"}, headers=admin_headers)
    page = first.json()
    assert [item["id"] for item in page["items"]] == [shop["id"], erp["id"]]
    rest = await ids(cursor=page["next_cursor"])
    assert rest == [board["id"]]
    bad = await client.get(CLIENTS, params={"sort": "name"}, headers=admin_headers)
    assert bad.status_code == 422
    unknown = await client.get(CLIENTS, params={"role": "admin"}, headers=admin_headers)
    assert unknown.status_code == 422


async def test_rotation_returns_a_new_secret(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    created = await created_client(client, admin_headers)
    before = await connection.scalar(
        text("SELECT secret_hash FROM api_clients WHERE id = :id"), {"id": created["id"]}
    )
    response = await client.post(
        f"{CLIENTS}/{created['id']}/rotate-secret",
        json={"previous_valid_for_seconds": 3600},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_secret"].startswith("srs_")
    assert body["client_secret"] != created["client_secret"]
    assert body["client_id"] == created["client_id"]
    row = (
        await connection.execute(
            text(
                "SELECT secret_hash, previous_secret_hash, previous_valid_until > now() AS open"
                " FROM api_clients WHERE id = :id"
            ),
            {"id": created["id"]},
        )
    ).one()
    assert row.previous_secret_hash == before
    assert row.secret_hash not in (before, body["client_secret"])
    assert row.open is True


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"previous_valid_for_seconds": -1},
        {"previous_valid_for_seconds": 604801},
        {"previous_valid_for_seconds": "60"},
        {"previous_valid_for_seconds": 1.5},
    ],
)
async def test_bad_rotations_are_422_and_keep_the_secret(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    connection: AsyncConnection,
    body: dict[str, object],
) -> None:
    created = await created_client(client, admin_headers)
    before = await connection.scalar(
        text("SELECT secret_hash FROM api_clients WHERE id = :id"), {"id": created["id"]}
    )
    response = await client.post(
        f"{CLIENTS}/{created['id']}/rotate-secret", json=body, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    after = await connection.scalar(
        text("SELECT secret_hash FROM api_clients WHERE id = :id"), {"id": created["id"]}
    )
    assert after == before
