"""A browser's own EventSource on a stream ticket, against `stockroom serve`: it receives a
posting, reconnects by itself when the server drops the connection (a restart on the same
port), catches up with Last-Event-ID and goes on live; the ticket opens nothing else and
never reaches the server's log.

Headless Chromium is Debian's `chromium` package (CI installs it), driven by Playwright; the
test skips, saying why, only where that browser is not installed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from src.models.user import Role
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, needs_chromium
from tests.support.factories import MakeUser, bearer, token_pair
from tests.support.servers import free_port, served
from tests.support.settings import TEST_SECRET_KEY
from tests.support.stock import new_location, new_product, receive

# The ticket must outlive two server starts on a busy machine: EventSource reconnects with it.
SLOW = {"STREAM_TICKET_TTL_SECONDS": "600"}

pytestmark = needs_chromium

# Opens the stream and records what the page sees: opens, errors and movement events.
OPEN_STREAM = """(url) => {
    window.seen = {opens: 0, errors: 0, movements: []};
    const source = new EventSource(url);
    source.onopen = () => { window.seen.opens += 1; };
    source.onerror = () => { window.seen.errors += 1; };
    source.addEventListener("movement", (event) => {
        window.seen.movements.push({id: event.lastEventId, data: JSON.parse(event.data)});
    });
    window.source = source;
}"""
RECEIVED = "(id) => window.seen.movements.some((m) => m.id === id)"
STATUS_OF = "async (url) => (await fetch(url)).status"


async def received(page: Page, movement: dict[str, Any]) -> None:
    await page.wait_for_function(RECEIVED, arg=movement["id"], timeout=WAIT_MS)


@pytest.mark.server
@pytest.mark.slow
async def test_an_event_source_on_a_ticket_survives_a_server_restart(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    clerk = await committed_make_user(role=Role.CLERK)
    manager = await committed_make_user(role=Role.MANAGER)
    clerk_headers = bearer((await token_pair(committed_client, clerk.email))["access_token"])
    manager_headers = bearer((await token_pair(committed_client, manager.email))["access_token"])
    product = await new_product(committed_client, manager_headers)
    location = await new_location(committed_client, manager_headers)
    port = free_port()
    logs: list[str] = []

    async with async_playwright() as playwright:
        # The browser starts while the server does.
        launching = asyncio.create_task(
            playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        )
        try:
            async with (
                served(
                    committed_database_url, tmp_path / "a", TEST_SECRET_KEY, port=port, env=SLOW
                ) as a,
                httpx.AsyncClient(base_url=a.base, timeout=10) as http,
            ):
                page = await (await launching).new_page()
                viewer = await committed_make_user(role=Role.VIEWER)
                access = (await token_pair(http, viewer.email))["access_token"]
                minted = await http.post("/api/v1/auth/stream-tickets", headers=bearer(access))
                assert minted.status_code == 201, minted.text
                ticket = minted.json()["ticket"]

                await page.goto(f"{a.base}/api/health")  # any page of the server's origin
                await page.evaluate(OPEN_STREAM, f"/api/v1/stock/events?ticket={ticket}")
                await page.wait_for_function("() => window.seen.opens === 1", timeout=WAIT_MS)
                live = await receive(http, clerk_headers, product, location, 2)
                await received(page, live)
            logs.append(a.output())  # SIGTERM: the server ended the stream and exited (0)

            # Posted while no server listens there: the browser must catch up by itself.
            missed = await receive(committed_client, clerk_headers, product, location, 3)
            async with (
                served(committed_database_url, tmp_path / "b", TEST_SECRET_KEY, port=port) as b,
                httpx.AsyncClient(base_url=b.base, timeout=10) as http,
            ):
                await page.wait_for_function("() => window.seen.opens >= 2", timeout=WAIT_MS)
                await received(page, missed)  # replayed: EventSource sent Last-Event-ID
                after = await receive(http, clerk_headers, product, location, 4)
                await received(page, after)

                seen = await page.evaluate("() => window.seen")
                ours = [
                    m["id"] for m in seen["movements"] if m["data"]["product_id"] == product["id"]
                ]
                assert ours == [live["id"], missed["id"], after["id"]]  # in order, none twice
                assert seen["movements"][-1]["data"] == after

                # The same ticket, from the same page, on anything but a stream: 401.
                me = f"/api/v1/users/me?ticket={ticket}"
                assert await page.evaluate(STATUS_OF, me) == 401
                assert (await http.get(me)).status_code == 401
                await page.evaluate("() => window.source.close()")
            logs.append(b.output())
        finally:
            await (await launching).close()

    for log in logs:
        assert "ticket=[redacted]" in log  # the stream requests were logged...
        assert ticket not in log  # ...without the ticket
