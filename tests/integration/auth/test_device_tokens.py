"""Device tokens (OWASP's "device cookies"): the account-wide login limit cannot lock the
owner out of a device they logged in from before.

A password login answers a signed device token, as `device_token` and as an HttpOnly cookie
scoped to the token endpoint. Presented again (the `Stockroom-Device` header, or the cookie),
a valid one for the same account skips the limit across addresses; the device has a limit
of its own instead. Anything else (forged, expired, another account's) counts as a new device.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from src.config import Environment
from tests.support.apps import RunningApp, app_beside
from tests.support.factories import DEFAULT_PASSWORD, MakeUser, sign_token
from tests.support.logins import (
    ACCOUNT_LIMIT,
    ALL_CLIENTS,
    COOKIE,
    TOKEN_PATH,
    WRONG,
    attempt,
    client_for,
    device_of,
    lock_out,
    login,
    new_address,
)
from tests.support.settings import make_settings

OTHER_KEY = "another-secret-key-for-tests-0123456789abcdefgh"


@pytest.fixture
def running_app(database_url: str, tmp_path: Path, app: FastAPI) -> RunningApp:
    @asynccontextmanager
    async def build(**overrides: object) -> AsyncIterator[FastAPI]:
        values: dict[str, object] = {
            "login_rate_limit_per_account_all_clients": f"{ALL_CLIENTS}/hour",
            "login_rate_limit_per_client": "1000/minute",
            **overrides,
        }
        async with app_beside(app, make_settings(database_url, tmp_path, **values)) as other:
            yield other

    return build


async def test_the_owners_device_logs_in_through_a_lockout_and_a_new_one_does_not(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        device = await device_of(app, owner.email)
        await lock_out(app, owner.email)
        # From a new address, the right password without a device token: still locked.
        refused = await attempt(app, owner.email, DEFAULT_PASSWORD)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) > 60
        assert "device_token" not in refused.text
        # The owner's device, from yet another address: in, with a working session.
        admitted = await attempt(app, owner.email, DEFAULT_PASSWORD, device)
        assert admitted.status_code == 200, admitted.text
        body = admitted.json()
        async with client_for(app) as client:
            me = await client.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
            )
        assert me.json()["email"] == owner.email
        # Each login hands out a fresh token, which is trusted in turn.
        assert body["device_token"] != device
        again = await attempt(app, owner.email, DEFAULT_PASSWORD, body["device_token"])
        assert again.status_code == 200, again.text


async def test_a_device_token_is_no_password(running_app: RunningApp, make_user: MakeUser) -> None:
    owner = await make_user()
    async with running_app() as app:
        device = await device_of(app, owner.email)
        wrong = await attempt(app, owner.email, WRONG, device)
        assert wrong.status_code == 400, wrong.text
        assert wrong.json()["error"] == "invalid_grant"
        assert "access_token" not in wrong.text


def forged(token: str) -> str:
    """The same claims and key name, signed with a key the server does not have."""
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    return sign_token(claims, OTHER_KEY, kid=kid)


@pytest.mark.parametrize(
    "spoil",
    [forged, lambda token: token[:-4] + "AAAA", lambda token: "not-a-token"],
    ids=["forged", "altered", "garbage"],
)
async def test_a_spoiled_device_token_gives_no_exemption(
    running_app: RunningApp, make_user: MakeUser, spoil: Callable[[str], str]
) -> None:
    owner = await make_user()
    async with running_app() as app:
        device = await device_of(app, owner.email)
        await lock_out(app, owner.email)
        response = await attempt(app, owner.email, DEFAULT_PASSWORD, spoil(device))
        assert response.status_code == 429, response.text
        assert (await attempt(app, owner.email, DEFAULT_PASSWORD, device)).status_code == 200


async def test_another_accounts_device_token_gives_no_exemption(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner, other = await make_user(), await make_user()
    async with running_app() as app:
        others_device = await device_of(app, other.email)
        await lock_out(app, owner.email)
        response = await attempt(app, owner.email, DEFAULT_PASSWORD, others_device)
        assert response.status_code == 429, response.text
        # The other account's own login is untouched, device or not.
        assert (await attempt(app, other.email, DEFAULT_PASSWORD, others_device)).status_code == 200


async def test_an_expired_device_token_gives_no_exemption(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app(device_token_ttl_seconds=1) as app:
        device = await device_of(app, owner.email)
        await lock_out(app, owner.email)
        await asyncio.sleep(1.2)
        response = await attempt(app, owner.email, DEFAULT_PASSWORD, device)
        assert response.status_code == 429, response.text


async def test_a_device_token_outlives_a_key_rotation_while_the_old_key_is_kept(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app(secret_key=OTHER_KEY) as before:
        device = await device_of(before, owner.email)
    async with running_app(secret_key_previous=[OTHER_KEY]) as rotated:
        await lock_out(rotated, owner.email)
        response = await attempt(rotated, owner.email, DEFAULT_PASSWORD, device)
        assert response.status_code == 200, response.text
    async with running_app() as forgotten:  # the old key dropped: the token is just a string
        await lock_out(forgotten, owner.email)
        response = await attempt(forgotten, owner.email, DEFAULT_PASSWORD, device)
        assert response.status_code == 429, response.text


async def test_a_guessing_device_is_locked_out_on_its_own(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        stolen, kept = await device_of(app, owner.email), await device_of(app, owner.email)
        # Guesses with a stolen device token, each from another address: the device's own
        # limit stops them, and they do not spend the account's budget for new devices.
        statuses = [(await attempt(app, owner.email, WRONG, stolen)).status_code for _ in range(6)]
        assert statuses == [400] * ACCOUNT_LIMIT + [429]
        locked = await attempt(app, owner.email, DEFAULT_PASSWORD, stolen)
        assert locked.status_code == 429, locked.text
        assert (await attempt(app, owner.email, DEFAULT_PASSWORD, kept)).status_code == 200
        # Two logins so far charged the account-wide budget of six: a new device still gets in.
        assert (await attempt(app, owner.email, DEFAULT_PASSWORD)).status_code == 200


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    return SimpleCookie(cookies[0])


async def test_browsers_get_the_token_as_a_strict_http_only_cookie(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app(environment=Environment.PRODUCTION) as app:
        response = await attempt(app, owner.email, DEFAULT_PASSWORD)
        assert response.status_code == 200, response.text
        cookie = set_cookie(response)[COOKIE]
        assert cookie.value == response.json()["device_token"]
        assert cookie["httponly"] is True
        assert cookie["secure"] is True
        assert cookie["samesite"].lower() == "strict"
        assert cookie["path"] == TOKEN_PATH
        assert cookie["max-age"] == str(90 * 86_400)
        # A refresh is no login: no new device token.
        refreshed = await attempt_refresh(app, response.json()["refresh_token"])
        assert "set-cookie" not in refreshed.headers
        assert "device_token" not in refreshed.json()


async def attempt_refresh(app: FastAPI, refresh_token: str) -> httpx.Response:
    async with client_for(app) as client:
        response = await client.post(
            TOKEN_PATH, data={"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
    assert response.status_code == 200, response.text
    return response


async def test_the_cookie_sent_back_exempts_like_the_header(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        async with client_for(app, new_address()) as browser:
            first = await login(browser, owner.email, DEFAULT_PASSWORD)
            assert first.status_code == 200, first.text
            assert "secure" not in first.headers["set-cookie"].lower()  # development: http
            jar = browser.cookies
        await lock_out(app, owner.email)
        # The same browser on another network: its cookie jar goes with it.
        async with client_for(app, new_address()) as browser:
            browser.cookies = jar
            admitted = await login(browser, owner.email, DEFAULT_PASSWORD)
            assert admitted.status_code == 200, admitted.text
            assert set_cookie(admitted)[COOKIE].value == admitted.json()["device_token"]
        async with client_for(app, new_address()) as stranger:  # no cookie
            assert (await login(stranger, owner.email, DEFAULT_PASSWORD)).status_code == 429
