"""Logins as the rate-limit, lockout and device-token tests make them: from a client address
of the test's choice (`client_for`, or a new one each time: `attempt`), with a wrong password
or the right one, with a device token or none, and what a refusal looks like."""

from __future__ import annotations

import itertools

import httpx
from fastapi import FastAPI

from tests.support.factories import DEFAULT_PASSWORD

TOKEN_PATH = "/api/v1/auth/token"
HEADER = "Stockroom-Device"
COOKIE = "stockroom_device"
WRONG = "Not-the-Passw0rd-at-all"
ACCOUNT_LIMIT = 5  # the default "5/minute"
ALL_CLIENTS = 6  # the account-wide limit the device-token tests set, per hour
_addresses = (f"203.0.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(
        TOKEN_PATH, data={"grant_type": "password", "username": email, "password": password}
    )


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/rate-limited"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 60
    assert "access_token" not in response.text


def client_for(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def new_address() -> str:
    return next(_addresses)


async def attempt(
    app: FastAPI, email: str, password: str, device: str | None = None
) -> httpx.Response:
    """A login from an address never seen before, with a device token or none."""
    async with client_for(app, new_address()) as client:
        headers = {HEADER: device} if device is not None else {}
        return await client.post(
            TOKEN_PATH,
            data={"grant_type": "password", "username": email, "password": password},
            headers=headers,
        )


async def device_of(app: FastAPI, email: str) -> str:
    response = await attempt(app, email, DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    token = response.json()["device_token"]
    assert isinstance(token, str)
    assert token.count(".") == 2  # a JWT
    return token


async def lock_out(app: FastAPI, email: str) -> list[int]:
    """The attack: wrong guesses spread over twelve addresses, five each."""
    statuses = []
    for _ in range(12):
        async with client_for(app, new_address()) as client:
            for _ in range(ACCOUNT_LIMIT):
                statuses.append((await login(client, email, WRONG)).status_code)
    assert statuses.count(429) >= 50, statuses  # the account is locked for new devices
    return statuses
