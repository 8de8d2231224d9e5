"""POST /users (admin): create a user with a role, whether or not registration is open."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.config import Environment
from src.dependencies import get_database
from src.main import create_app
from tests.support.factories import Headers, password_grant, unique_email
from tests.support.settings import make_settings

URL = "/api/v1/users"
GOOD = "correct horse battery staple"


def body(**overrides: object) -> dict[str, object]:
    return {
        "email": unique_email("made"),
        "password": GOOD,
        "full_name": "Cora Clerk",
        "role": "clerk",
        **overrides,
    }


async def count_users(client: httpx.AsyncClient, headers: Headers, email: object) -> int:
    response = await client.get(URL, params={"q": str(email)}, headers=headers)
    return len(response.json()["items"])


async def test_an_admin_creates_a_user_with_a_role(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    document = body(full_name="  Cora Clerk ")
    response = await client.post(URL, json=document, headers=admin_headers)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["role"] == "clerk"
    assert user["full_name"] == "Cora Clerk"
    assert user["is_active"] is True
    assert "password" not in response.text
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    fetched = await client.get(response.headers["location"], headers=admin_headers)
    assert fetched.json() == user
    token = await password_grant(client, str(document["email"]), GOOD)
    assert token.status_code == 200, token.text


async def test_the_role_defaults_to_viewer(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    document = body()
    del document["role"]
    response = await client.post(URL, json=document, headers=admin_headers)
    assert response.status_code == 201
    assert response.json()["role"] == "viewer"


async def test_a_duplicate_email_is_409(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    email = unique_email("twice")
    assert (
        await client.post(URL, json=body(email=email), headers=admin_headers)
    ).status_code == 201
    again = await client.post(URL, json=body(email=email.upper()), headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/conflict"
    assert await count_users(client, admin_headers, email) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"role": "owner"},
        {"role": None},
        {"password": "password123"},
        {"password": "short"},
        {"email": "not-an-email"},
        {"full_name": "   "},
        {"is_active": False},
        {"id": "0190a000-0000-7000-8000-000000000001"},
    ],
)
async def test_bad_input_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, bad: dict[str, object]
) -> None:
    document = body(**bad)
    response = await client.post(URL, json=document, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation-error"
    assert await count_users(client, admin_headers, document["email"]) == 0


async def test_only_admins_may_create_users(
    client: httpx.AsyncClient, admin_headers: Headers, manager_headers: Headers
) -> None:
    document = body(role="admin")
    anonymous = await client.post(URL, json=document)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    manager = await client.post(URL, json=document, headers=manager_headers)
    assert manager.status_code == 403
    assert manager.json()["type"] == "/problems/forbidden"
    assert await count_users(client, admin_headers, document["email"]) == 0
    token = await password_grant(client, str(document["email"]), GOOD)
    assert token.status_code == 400


@pytest.fixture
async def production_client(database_url: str, tmp_path: Path, app: FastAPI) -> httpx.AsyncClient:
    # Production with REGISTRATION_OPEN left unset.
    settings = make_settings(database_url, tmp_path, environment=Environment.PRODUCTION)
    production = create_app(settings)
    production.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    async with LifespanManager(production):
        transport = httpx.ASGITransport(app=production)
        yield httpx.AsyncClient(transport=transport, base_url="http://t")  # type: ignore[misc]


async def test_outside_development_registration_is_closed_but_admins_create_users(
    production_client: httpx.AsyncClient, admin_headers: Headers, client: httpx.AsyncClient
) -> None:
    document = body()
    registration = {name: value for name, value in document.items() if name != "role"}
    refused = await production_client.post("/api/v1/auth/register", json=registration)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/forbidden"
    assert await count_users(client, admin_headers, document["email"]) == 0
    created = await production_client.post(URL, json=document, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert await count_users(client, admin_headers, document["email"]) == 1
