"""Emails are identities: one canonical form (NFKC, case-folded) for uniqueness and lookup,
and no look-alikes: a local part or domain label that mixes scripts is refused (422)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.factories import password_grant

REGISTER = "/api/v1/auth/register"
USERS = "/api/v1/users"
GOOD = "correct horse battery staple"
CYRILLIC_A = "\u0430"
Headers = dict[str, str]


def tag() -> str:
    return uuid.uuid4().hex[:8]


def fullwidth(text: str) -> str:
    """ASCII letters and digits as their full-width forms (NFKC maps them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


async def register(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(REGISTER, json={"email": email, "password": GOOD, "full_name": "N"})


async def test_a_full_width_twin_collides_with_the_account(client: httpx.AsyncClient) -> None:
    email = f"admin-{tag()}@example.com"
    assert (await register(client, email)).status_code == 201
    twin = fullwidth(email.split("@")[0]) + "@example.com"
    assert twin != email
    response = await register(client, twin)
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "/problems/conflict"
    # The twin logs into the one account, as its case variants do.
    assert (await password_grant(client, twin, GOOD)).status_code == 200


async def test_addresses_are_stored_case_folded_and_nfkc(client: httpx.AsyncClient) -> None:
    local = f"Bob-{tag()}"
    response = await register(client, fullwidth(local) + "@Example.COM")
    assert response.status_code == 201, response.text
    assert response.json()["email"] == f"{local.lower()}@example.com"


@pytest.mark.parametrize(
    "email",
    [
        f"admin@ex{CYRILLIC_A}mple.com",  # a Cyrillic letter in a Latin domain label
        f"p{CYRILLIC_A}ypal@example.com",  # ... in a Latin local part
        "admin@example.c\u03bfm",  # a Greek omicron in the top-level domain
    ],
)
async def test_mixed_script_addresses_are_refused(client: httpx.AsyncClient, email: str) -> None:
    response = await register(client, email)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["loc"] == ["body", "email"]
    assert "script" in error["msg"]
    assert (await password_grant(client, email, GOOD)).status_code == 400


@pytest.mark.parametrize(
    "local_and_domain",
    [
        (
            "\u0438\u0432\u0430\u043d",
            "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
        ),  # Cyrillic
        ("\u3084\u307e\u3060\u592a\u90ce", "example.jp"),  # Hiragana with Han: Japanese
        ("ana.mar\u00eda", "example.es"),  # Latin with a diacritic
    ],
)
async def test_single_script_addresses_are_welcome(
    client: httpx.AsyncClient, local_and_domain: tuple[str, str]
) -> None:
    local, domain = local_and_domain
    email = f"{local}{uuid.uuid4().int % 10**8}@{domain}"  # digits belong to every script
    response = await register(client, email)
    assert response.status_code == 201, response.text
    assert (await password_grant(client, email, GOOD)).status_code == 200


async def test_admin_created_users_follow_the_same_rules(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    email = f"clerk-{tag()}@example.com"

    async def create(address: str) -> httpx.Response:
        document = {"email": address, "password": GOOD, "full_name": "C", "role": "clerk"}
        return await client.post(USERS, json=document, headers=admin_headers)

    assert (await create(email)).status_code == 201
    assert (await create(fullwidth(email.split("@")[0]) + "@example.com")).status_code == 409
    assert (await create(email.replace("example", f"ex{CYRILLIC_A}mple"))).status_code == 422
    listed = await client.get(USERS, params={"q": email.split("@")[0]}, headers=admin_headers)
    assert [user["email"] for user in listed.json()["items"]] == [email]
