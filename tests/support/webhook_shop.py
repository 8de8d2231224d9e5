"""A shop for webhook tests: an app of its own database with delivery settings shrunk
(`FAST`: the same code path, shorter waits), an admin and a manager, a product and a
location, and shortcuts for the calls the tests repeat."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from src.main import create_app
from src.models.user import Role
from tests.support.factories import committed_users, login_headers
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.stock import new_location, new_product, post_movement
from tests.support.webhooks import Receiver

API = "/api/v1"
FAST: dict[str, Any] = {
    "webhook_concurrency": 8,
    "webhook_allow_private_targets": True,
    "webhook_poll_seconds": 0.05,
    "webhook_retry_schedule_seconds": [0.2, 0.2, 0.2],
    "webhook_timeout_seconds": 2,
}


@dataclass
class Shop:
    client: httpx.AsyncClient
    admin: dict[str, str]
    clerk: dict[str, str]
    product: dict[str, Any]
    location: dict[str, Any]
    database_url: str

    async def receipt(self, quantity: int = 1) -> dict[str, Any]:
        response = await post_movement(
            self.client, self.clerk, self.product, self.location, "receipt", quantity
        )
        assert response.status_code == 201, response.text
        movement: dict[str, Any] = response.json()
        return movement

    async def hook(self, url: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"{API}/webhooks", json={"url": url, **fields}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        endpoint: dict[str, Any] = response.json()
        return endpoint

    async def hook_to(self, receiver: Receiver, **fields: Any) -> dict[str, Any]:
        """An endpoint at `receiver`, whose verifier learns its secret."""
        endpoint = await self.hook(receiver.url, **fields)
        receiver.secrets.append(endpoint["secret"])
        return endpoint

    async def deliveries(self, endpoint: dict[str, Any], **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{API}/webhooks/{endpoint['id']}/deliveries",
            params={"limit": "100", **params},
            headers=self.admin,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def failed_attempt(self, endpoint: dict[str, Any], seconds: float = 10) -> dict[str, Any]:
        """The endpoint's first delivery, once an attempt at it has failed."""
        async with asyncio.timeout(seconds):
            while True:
                log = await self.deliveries(endpoint)
                if log and log[0]["last_error"]:
                    return log[0]
                await asyncio.sleep(0.05)

    async def endpoint(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.get(f"{API}/webhooks/{endpoint['id']}", headers=self.admin)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


# The `shop` fixture: opens a shop, with settings overridden by keyword.
ShopFactory = Callable[..., Awaitable[Shop]]


async def open_shop(
    stack: contextlib.AsyncExitStack, database_url: str, tmp_path: Path, **overrides: Any
) -> Shop:
    """The shop on `database_url`, its app running until `stack` closes."""
    settings = make_settings(database_url, tmp_path, **{**FAST, **overrides})
    client = await stack.enter_async_context(in_process(create_app(settings)))
    admin, manager = await committed_users(database_url, Role.ADMIN, Role.MANAGER)
    admin_headers = await login_headers(client, admin)
    manager_headers = await login_headers(client, manager)
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    return Shop(client, admin_headers, manager_headers, product, location, database_url)
