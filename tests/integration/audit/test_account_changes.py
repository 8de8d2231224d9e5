"""Users and webhooks: registration, an admin's creation, renames, role and activation changes
and password changes each write their entry; a password never appears in one, nor its hash;
a change refused (the last admin, a wrong current password) writes none."""

from __future__ import annotations

import json

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from src.models.user import Role, User
from tests.support.audit import audit_rows
from tests.support.factories import DEFAULT_PASSWORD, Headers, MakeUser, login_headers
from tests.support.webhook_api import WEBHOOKS, new_hook

USERS = "/api/v1/users"
NEW_PASSWORD = "Fresh-Sturdy-Passw0rd-2"


async def test_registration_and_an_admins_creation_are_audited(
    client: httpx.AsyncClient, connection: AsyncConnection, admin: User, admin_headers: Headers
) -> None:
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": "new@example.com", "password": DEFAULT_PASSWORD, "full_name": "New"},
    )
    assert registered.status_code == 201, registered.text
    created = await client.post(
        USERS,
        json={
            "email": "clerk@example.com",
            "password": DEFAULT_PASSWORD,
            "full_name": "Clerk",
            "role": "clerk",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    (joined,) = await audit_rows(connection, entity_id=registered.json()["id"])
    assert joined["action"] == "user.registered"
    assert joined["actor"] is None  # no one was logged in
    assert joined["changes"]["role"] == [None, "viewer"]
    (made,) = await audit_rows(connection, entity_id=created.json()["id"])
    assert made["action"] == "user.created"
    assert made["actor"]["id"] == str(admin.id)
    assert made["changes"]["email"] == [None, "clerk@example.com"]
    for entry in (joined, made):
        text = json.dumps(entry["changes"])
        assert DEFAULT_PASSWORD not in text
        assert "argon2" not in text


async def test_role_activation_and_name_changes_are_separate_entries(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    make_user: MakeUser,
    admin_headers: Headers,
) -> None:
    user = await make_user(role=Role.VIEWER, full_name="Vera")
    response = await client.patch(
        f"{USERS}/{user.id}",
        json={"role": "manager", "is_active": False, "full_name": "Vera V."},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    entries = {
        e["action"]: e["changes"] for e in await audit_rows(connection, entity_id=str(user.id))
    }
    assert entries == {
        "user.role_changed": {"role": ["viewer", "manager"]},
        "user.deactivated": {"is_active": [True, False]},
        "user.updated": {"full_name": ["Vera", "Vera V."]},
    }
    back = await client.patch(f"{USERS}/{user.id}", json={"is_active": True}, headers=admin_headers)
    assert back.status_code == 200
    assert len(await audit_rows(connection, action="user.activated")) == 1


async def test_demoting_the_last_admin_leaves_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, admin: User, admin_headers: Headers
) -> None:
    refused = await client.patch(
        f"{USERS}/{admin.id}", json={"role": "viewer"}, headers=admin_headers
    )
    assert refused.status_code == 409
    assert await audit_rows(connection, entity_id=str(admin.id)) == []


async def test_renaming_oneself_is_audited(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user(full_name="Old Name")
    headers = await login_headers(client, user)
    response = await client.patch(f"{USERS}/me", json={"full_name": "New Name"}, headers=headers)
    assert response.status_code == 200, response.text
    (entry,) = await audit_rows(connection, entity_id=str(user.id))
    assert entry["action"] == "user.updated"
    assert entry["changes"] == {"full_name": ["Old Name", "New Name"]}
    assert entry["actor"] == {"type": "user", "id": str(user.id), "name": "Old Name"}


async def test_a_password_change_is_audited_redacted(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user()
    headers = await login_headers(client, user)
    wrong = await client.post(
        f"{USERS}/me/password",
        json={"current_password": "Not-the-Passw0rd", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert await audit_rows(connection, entity_id=str(user.id)) == []
    changed = await client.post(
        f"{USERS}/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    (entry,) = await audit_rows(connection, entity_id=str(user.id))
    assert entry["action"] == "user.password_changed"
    assert entry["changes"] == {"password": ["[redacted]", "[redacted]"]}
    everything = json.dumps({k: str(v) for k, v in entry.items()})
    assert NEW_PASSWORD not in everything
    assert DEFAULT_PASSWORD not in everything
    assert "argon2" not in everything


async def test_webhook_changes_are_audited_without_their_secret(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    hook = await new_hook(client, admin_headers, description="shop")
    url = f"{WEBHOOKS}/{hook['id']}"
    patched = await client.patch(url, json={"description": "the shop"}, headers=admin_headers)
    assert patched.status_code == 200, patched.text
    unchanged = await client.patch(url, json={"description": "the shop"}, headers=admin_headers)
    assert unchanged.status_code == 200
    rotated = await client.post(f"{url}/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    entries = await audit_rows(connection, entity_id=hook["id"])
    assert [e["action"] for e in entries] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.deleted",
    ]
    assert entries[0]["changes"]["url"] == [None, hook["url"]]
    assert entries[1]["changes"] == {"description": ["shop", "the shop"]}
    assert entries[2]["changes"] == {"secret": ["[redacted]", "[redacted]"]}
    assert entries[3]["changes"]["url"] == [hook["url"], None]
    text = json.dumps([e["changes"] for e in entries])
    assert hook["secret"] not in text
    assert rotated.json()["secret"] not in text


async def test_a_refused_webhook_change_leaves_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    refused = await client.post(
        WEBHOOKS, json={"url": "http://127.0.0.1/hook"}, headers=admin_headers
    )
    assert refused.status_code == 422
    assert await audit_rows(connection, entity_type="webhook") == []
