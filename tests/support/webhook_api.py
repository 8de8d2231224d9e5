"""Helpers for the webhook API tests: register endpoints, read them back, check problems."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.factories import Headers
from tests.support.stock import API

WEBHOOKS = f"{API}/webhooks"
# A public IPv4 literal: accepted without DNS while private targets are refused (nothing is
# ever sent to it in these tests: in-process apps run no delivery workers).
PUBLIC_URL = "https://93.184.215.14/hooks"
UNKNOWN = "0190a3a8-0000-7000-8000-000000000000"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


def error_locs(response: httpx.Response) -> list[list[str | int]]:
    return [e["loc"] for e in response.json()["errors"]]


async def new_hook(
    client: httpx.AsyncClient, headers: Headers, url: str = PUBLIC_URL, **fields: Any
) -> dict[str, Any]:
    response = await client.post(WEBHOOKS, json={"url": url, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def hooks(client: httpx.AsyncClient, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get(WEBHOOKS, params={"limit": "100"}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def hook(client: httpx.AsyncClient, headers: Headers, hook_id: str) -> dict[str, Any]:
    response = await client.get(f"{WEBHOOKS}/{hook_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(
    client: httpx.AsyncClient, headers: Headers, hook_id: str, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{WEBHOOKS}/{hook_id}/deliveries", params={"limit": "100", **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def send_test(client: httpx.AsyncClient, headers: Headers, hook_id: str) -> dict[str, Any]:
    response = await client.post(f"{WEBHOOKS}/{hook_id}/test", headers=headers)
    assert response.status_code == 202, response.text
    delivery: dict[str, Any] = response.json()
    return delivery


async def set_active(
    client: httpx.AsyncClient, headers: Headers, hook_id: str, active: bool
) -> dict[str, Any]:
    response = await client.patch(
        f"{WEBHOOKS}/{hook_id}", json={"is_active": active}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
