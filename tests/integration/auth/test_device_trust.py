"""When a device token stops being trusted: its budget of logins over a long window is spent
(LOGIN_RATE_LIMIT_PER_DEVICE), the password changed, the account was deactivated. And what
a device token is not: an access token, a refresh token or a stream ticket, nor those a
device token. Both the header and the cookie are tried when both come.

A token that is not trusted counts as no token: the attempt is charged to the account's
limit across addresses like any new device's (locked out here by `lock_out`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from src.config import Environment
from src.models.user import Role
from tests.support.apps import RunningApp, app_beside
from tests.support.factories import DEFAULT_PASSWORD, MakeUser
from tests.support.logins import (
    ALL_CLIENTS,
    COOKIE,
    HEADER,
    TOKEN_PATH,
    WRONG,
    attempt,
    client_for,
    device_of,
    lock_out,
    new_address,
)
from tests.support.settings import make_settings

NEW_PASSWORD = "a brand new passphrase 42"
BUDGET = 4  # the per-device budget these tests set, per day


@pytest.fixture
def running_app(database_url: str, tmp_path: Path, app: FastAPI) -> RunningApp:
    @asynccontextmanager
    async def build(**overrides: object) -> AsyncIterator[FastAPI]:
        values: dict[str, object] = {
            "login_rate_limit_per_account_all_clients": f"{ALL_CLIENTS}/hour",
            "login_rate_limit_per_client": "1000/minute",
            "login_rate_limit_per_device": f"{BUDGET}/day",
            **overrides,
        }
        async with app_beside(app, make_settings(database_url, tmp_path, **values)) as other:
            yield other

    return build


async def bearer(app: FastAPI, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = await attempt(app, email, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# ---------------------------------------------------------------- the budget


async def test_a_device_token_that_spent_its_budget_exempts_nothing(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        stolen, kept = await device_of(app, owner.email), await device_of(app, owner.email)
        await lock_out(app, owner.email)
        # Replayed from a new address each time, under the tight limit per device (5 a
        # minute): exempt, so wrong guesses get their 400 ...
        guesses = [(await attempt(app, owner.email, WRONG, stolen)).status_code]
        guesses += [(await attempt(app, owner.email, WRONG, stolen)).status_code]
        guesses += [(await attempt(app, owner.email, DEFAULT_PASSWORD, stolen)).status_code]
        guesses += [(await attempt(app, owner.email, WRONG, stolen)).status_code]
        assert guesses == [400, 400, 200, 400]
        # ... until its budget is spent (a success did not refill it): now it is no token,
        # and the account is locked for new devices, right password or not.
        spent = await attempt(app, owner.email, DEFAULT_PASSWORD, stolen)
        assert spent.status_code == 429, spent.text
        assert "device_token" not in spent.text
        # The owner's other device keeps its own budget.
        assert (await attempt(app, owner.email, DEFAULT_PASSWORD, kept)).status_code == 200


async def test_a_spent_device_token_falls_back_to_the_account_limit_not_a_lockout(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app(login_rate_limit_per_device="1/day") as app:
        device = await device_of(app, owner.email)
        assert (await attempt(app, owner.email, WRONG, device)).status_code == 400
        # Spent, but the account is not locked: it logs in as a new device would, charged to
        # the account's limit across addresses (six an hour: the first login and this one),
        # which four more attempts with it use up.
        again = await attempt(app, owner.email, DEFAULT_PASSWORD, device)
        assert again.status_code == 200, again.text
        statuses = [(await attempt(app, owner.email, WRONG, device)).status_code for _ in range(5)]
        assert statuses == [400, 400, 400, 400, 429]


async def test_the_budget_must_be_a_rate(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="login_rate_limit_per_device"):
        make_settings(database_url, tmp_path, login_rate_limit_per_device="lots")


# ---------------------------------------------------------------- credentials


async def test_a_password_change_ends_every_device_token(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        before = await device_of(app, owner.email)
        async with client_for(app, new_address()) as client:
            changed = await client.post(
                "/api/v1/users/me/password",
                json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
                headers=await bearer(app, owner.email),
            )
        assert changed.status_code == 204, changed.text
        fresh = await attempt(app, owner.email, NEW_PASSWORD)
        assert fresh.status_code == 200, fresh.text
        after = fresh.json()["device_token"]
        await lock_out(app, owner.email)
        # Signed, unexpired, this account's, but from before the change: no exemption.
        stale = await attempt(app, owner.email, NEW_PASSWORD, before)
        assert stale.status_code == 429, stale.text
        assert (await attempt(app, owner.email, NEW_PASSWORD, after)).status_code == 200


async def test_a_deactivated_accounts_device_token_exempts_nothing(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner, admin = await make_user(), await make_user(role=Role.ADMIN)
    async with running_app() as app:
        device = await device_of(app, owner.email)
        async with client_for(app, new_address()) as client:
            off = await client.patch(
                f"/api/v1/users/{owner.id}",
                json={"is_active": False},
                headers=await bearer(app, admin.email),
            )
        assert off.status_code == 200, off.text
        await lock_out(app, owner.email)
        # Trusted, it would have reached the password check (400 for an inactive account).
        response = await attempt(app, owner.email, DEFAULT_PASSWORD, device)
        assert response.status_code == 429, response.text
        # The same token for an active account still works: only the deactivation differs.
        other = await make_user()
        other_device = await device_of(app, other.email)
        await lock_out(app, other.email)
        assert (await attempt(app, other.email, DEFAULT_PASSWORD, other_device)).status_code == 200


# ---------------------------------------------------------------- token confusion


async def tokens_of(app: FastAPI, email: str) -> dict[str, str]:
    """One of each kind, from one login and a stream ticket."""
    response = await attempt(app, email, DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    async with client_for(app) as client:
        ticket = await client.post(
            "/api/v1/auth/stream-tickets",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
    assert ticket.status_code == 201, ticket.text
    return {
        "access": body["access_token"],
        "refresh": body["refresh_token"],
        "device": body["device_token"],
        "ticket": ticket.json()["ticket"],
    }


async def test_a_device_token_is_no_access_token_refresh_token_or_ticket(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        device = (await tokens_of(app, owner.email))["device"]
        async with client_for(app) as client:
            me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {device}"})
            refreshed = await client.post(
                TOKEN_PATH, data={"grant_type": "refresh_token", "refresh_token": device}
            )
            logout = await client.post("/api/v1/auth/logout", json={"refresh_token": device})
            stream = await client.get("/api/v1/events", params={"ticket": device})
    assert me.status_code == 401, me.text
    assert me.json()["type"] == "/problems/unauthorized"
    assert refreshed.status_code == 400, refreshed.text
    assert refreshed.json()["error"] == "invalid_grant"
    assert "access_token" not in refreshed.text
    assert logout.status_code == 204  # unknown tokens are ignored: no oracle
    assert stream.status_code == 401, stream.text


@pytest.mark.parametrize("kind", ["access", "refresh", "ticket"])
async def test_no_other_token_passes_for_a_device_token(
    running_app: RunningApp, make_user: MakeUser, kind: str
) -> None:
    owner = await make_user()
    async with running_app() as app:
        tokens = await tokens_of(app, owner.email)
        await lock_out(app, owner.email)
        response = await attempt(app, owner.email, DEFAULT_PASSWORD, tokens[kind])
        assert response.status_code == 429, response.text
        # The device token of the same login does exempt: only the kind differs.
        admitted = await attempt(app, owner.email, DEFAULT_PASSWORD, tokens["device"])
        assert admitted.status_code == 200, admitted.text


async def test_one_accounts_device_token_does_not_exempt_anothers_login(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    first, second = await make_user(), await make_user()
    async with running_app() as app:
        firsts = await device_of(app, first.email)
        await lock_out(app, first.email)
        await lock_out(app, second.email)
        refused = await attempt(app, second.email, DEFAULT_PASSWORD, firsts)
        assert refused.status_code == 429, refused.text
        # Nor did trying it spend anything of the first account's device.
        assert (await attempt(app, first.email, DEFAULT_PASSWORD, firsts)).status_code == 200


# ---------------------------------------------------------------- header and cookie


async def login_with(app: FastAPI, email: str, *, header: str, cookie: str) -> httpx.Response:
    async with client_for(app, new_address()) as client:
        client.cookies.set(COOKIE, cookie)
        return await client.post(
            TOKEN_PATH,
            data={"grant_type": "password", "username": email, "password": DEFAULT_PASSWORD},
            headers={HEADER: header},
        )


@pytest.mark.parametrize("valid_in", ["header", "cookie"])
async def test_with_a_header_and_a_cookie_a_valid_one_wins(
    running_app: RunningApp, make_user: MakeUser, valid_in: str
) -> None:
    owner, other = await make_user(), await make_user()
    async with running_app() as app:
        good = await device_of(app, owner.email)
        wrong_account = await device_of(app, other.email)
        await lock_out(app, owner.email)
        pair = {"header": good, "cookie": wrong_account}
        if valid_in == "cookie":
            pair = {"header": "not-a-token", "cookie": good}
        admitted = await login_with(app, owner.email, **pair)
        assert admitted.status_code == 200, admitted.text
        # Neither valid: still locked out.
        refused = await login_with(app, owner.email, header="not-a-token", cookie=wrong_account)
        assert refused.status_code == 429, refused.text


# ---------------------------------------------------------------- the cookie, as documented

CONSOLE_ORIGIN = "https://console.example.com"


@pytest.mark.parametrize(
    ("environment", "secure"),
    [(Environment.DEVELOPMENT, False), (Environment.STAGING, True), (Environment.PRODUCTION, True)],
)
async def test_the_cookie_is_secure_everywhere_but_development(
    running_app: RunningApp, make_user: MakeUser, environment: Environment, secure: bool
) -> None:
    owner = await make_user()
    async with running_app(environment=environment) as app:
        response = await attempt(app, owner.email, DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    cookie = SimpleCookie(response.headers["set-cookie"])[COOKIE]
    assert bool(cookie["secure"]) is secure
    assert cookie["samesite"] == "strict"
    assert cookie["httponly"] is True


async def test_a_console_on_another_origin_gets_no_credentialed_answers(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    """A browser sends the cookie cross-origin only with `credentials: "include"`, and shows
    the answer only when it allows credentials: the API never does, so the cookie can help
    same-origin pages alone. The header stays allowed for clients that keep the token."""
    owner = await make_user()
    async with running_app(cors_origins=[CONSOLE_ORIGIN]) as app:
        async with client_for(app, new_address()) as client:
            preflight = await client.options(
                TOKEN_PATH,
                headers={
                    "Origin": CONSOLE_ORIGIN,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": HEADER,
                },
            )
            login = await client.post(
                TOKEN_PATH,
                data={
                    "grant_type": "password",
                    "username": owner.email,
                    "password": DEFAULT_PASSWORD,
                },
                headers={"Origin": CONSOLE_ORIGIN},
            )
            other = await client.options(
                TOKEN_PATH,
                headers={
                    "Origin": "https://elsewhere.example",
                    "Access-Control-Request-Method": "POST",
                },
            )
    assert preflight.status_code == 200, preflight.text
    assert HEADER.lower() in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert login.status_code == 200, login.text
    assert login.headers["access-control-allow-origin"] == CONSOLE_ORIGIN
    assert "access-control-allow-credentials" not in login.headers
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
