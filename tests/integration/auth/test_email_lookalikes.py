"""Emails are identities: one canonical form (NFKC, case-folded) for uniqueness and lookup,
and no look-alikes: a local part or domain label that mixes scripts is refused (422), and so
is an address whose confusable skeleton (Unicode TR39) is an existing account's (409)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from src.core.emails import canonical_email
from tests.support.factories import Headers, password_grant

REGISTER = "/api/v1/auth/register"
USERS = "/api/v1/users"
GOOD = "correct horse battery staple"
CYRILLIC_A = "\u0430"
DOTLESS_I = "\u0131"


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


async def emails_matching(client: httpx.AsyncClient, headers: Headers, text: str) -> list[str]:
    listed = await client.get(USERS, params={"q": text}, headers=headers)
    return sorted(user["email"] for user in listed.json()["items"])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("admin", f"adm{DOTLESS_I}n"),  # a dotless i: one Latin script, no mix to refuse
        ("modern", "rnodern"),  # "rn" reads as "m"
        ("paypal", "paypa1"),  # a digit one reads as a lower-case L
        ("john", "j0hn"),  # TR39 maps a zero to a capital O: it counts once case-folded
        ("b0b", "BOB"),  # case and a zero together
    ],
)
async def test_a_look_alike_of_an_account_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers, first: str, second: str
) -> None:
    tail = f"-{tag()}@example.com"
    assert (await register(client, first + tail)).status_code == 201
    response = await register(client, second + tail)
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"] == "/problems/conflict"
    assert problem["errors"][0]["loc"] == ["body", "email"]
    assert "looks like" in problem["detail"]
    # Nothing was created: the look-alike is no account, and only the first is listed.
    assert (await password_grant(client, second + tail, GOOD)).status_code == 400
    assert await emails_matching(client, admin_headers, tail.removesuffix("@example.com")) == [
        first + tail
    ]


async def test_an_admin_cannot_create_a_look_alike_either(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    tail = f"-{tag()}@example.com"

    async def create(address: str) -> httpx.Response:
        document = {"email": address, "password": GOOD, "full_name": "C", "role": "admin"}
        return await client.post(USERS, json=document, headers=admin_headers)

    assert (await create(f"adm{DOTLESS_I}n{tail}")).status_code == 201
    refused = await create(f"admin{tail}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "email"]
    assert await emails_matching(client, admin_headers, tail.removesuffix("@example.com")) == [
        f"adm{DOTLESS_I}n{tail}"
    ]


async def test_addresses_that_only_resemble_loosely_are_both_welcome(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    tail = f"-{tag()}@example.com"
    for local in ("ana", "anna", "adrian"):
        response = await register(client, local + tail)
        assert response.status_code == 201, response.text
    assert await emails_matching(client, admin_headers, tail.removesuffix("@example.com")) == [
        f"{local}{tail}" for local in ("adrian", "ana", "anna")
    ]


async def test_racing_look_alikes_make_one_account(committed_client: httpx.AsyncClient) -> None:
    """The database decides (a unique index on the skeleton), not a check before the insert
    that two requests can both pass."""
    tail = f"-{tag()}@example.com"
    # Four different addresses (no two equal once canonical), one skeleton: only the
    # skeleton's index can refuse three of them.
    addresses = [
        f"admin{tail}",
        f"adm{DOTLESS_I}n{tail}",
        f"adrnin{tail}",
        f"ADRN{DOTLESS_I}N{tail}",
    ]
    assert len({canonical_email(a) for a in addresses}) == 4
    responses = await asyncio.gather(*(register(committed_client, a) for a in addresses))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        problem = refused.json()
        assert problem["type"] == "/problems/conflict"
        assert problem["detail"] == "This email looks like an existing user's: choose another"
        assert problem["errors"][0]["loc"] == ["body", "email"]
    logins = [await password_grant(committed_client, a, GOOD) for a in addresses]
    assert sorted(login.status_code for login in logins) == [200, 400, 400, 400]
