"""POST /auth/register: viewer accounts, case-insensitive unique email, password policy."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.dependencies import get_database
from src.main import create_app
from tests.support.factories import unique_email
from tests.support.settings import make_settings

URL = "/api/v1/auth/register"
GOOD = "correct horse battery staple"


def body(**overrides: object) -> dict[str, object]:
    return {"email": unique_email(), "password": GOOD, "full_name": "Ann Example", **overrides}


async def test_register_creates_a_viewer(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=body(full_name="  Ann Example  "))
    assert response.status_code == 201
    user = response.json()
    assert user["role"] == "viewer"
    assert user["is_active"] is True
    assert user["full_name"] == "Ann Example"
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert set(user) == {
        "id",
        "email",
        "full_name",
        "role",
        "is_active",
        "created_at",
        "updated_at",
    }


async def test_registered_user_can_log_in(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await client.post(URL, json=body(email=email))
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email.upper(), "password": GOOD},
    )
    assert response.status_code == 200


async def test_email_is_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    email = unique_email()
    assert (await client.post(URL, json=body(email=email))).status_code == 201
    response = await client.post(URL, json=body(email=email.upper()))
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 8"),
        ("x" * 129, "at most 128"),
        (" " * 12, "whitespace"),
        ("password123", "too common"),
        ("Qwerty123", "too common"),
    ],
)
async def test_weak_passwords_are_422_with_reason(
    client: httpx.AsyncClient, password: str, reason: str
) -> None:
    response = await client.post(URL, json=body(password=password))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0]["loc"] == ["body", "password"]
    assert reason in errors[0]["msg"]
    assert password.strip() == "" or password not in response.text


@pytest.mark.parametrize("field", ["role", "id", "is_active", "created_at"])
async def test_mass_assignment_is_rejected(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post(URL, json=body(**{field: "admin"}))
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    "bad",
    [{"email": "not-an-email"}, {"full_name": "   "}, {"full_name": ""}, {"email": None}],
)
async def test_bad_fields_are_422(client: httpx.AsyncClient, bad: dict[str, object]) -> None:
    response = await client.post(URL, json=body(**bad))
    assert response.status_code == 422


async def test_missing_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(URL)
    assert response.status_code == 422


@pytest.fixture
async def closed_client(database_url: str, tmp_path: Path, app: FastAPI) -> httpx.AsyncClient:
    closed = create_app(make_settings(database_url, tmp_path, registration_open=False))
    closed.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    async with LifespanManager(closed):
        yield httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://t")  # type: ignore[misc]


async def test_registration_can_be_closed(closed_client: httpx.AsyncClient) -> None:
    response = await closed_client.post(URL, json=body())
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"
