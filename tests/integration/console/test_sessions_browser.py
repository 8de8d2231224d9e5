"""The console's session across tabs, in a real browser: a second tab joins the session of
the first, both refresh at once and stay logged in (and the server still honours the
session afterwards), and logging out in one tab logs out the other.

The tests skip, saying why, only where headless Chromium is not installed (CI installs it).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from playwright.async_api import BrowserContext, Page

from src.models.user import Role
from tests.support.browser import WAIT_MS, needs_chromium
from tests.support.console import ConsoleSite, log_in, show_only, wait_on_hand
from tests.support.factories import refresh_grant

pytestmark = needs_chromium

STORED = "() => sessionStorage.getItem('stockroom.console.session')"
# Past the access token's lifetime (15 minutes), by the page's clock only.
LATER_MS = 16 * 60 * 1000


async def tokens(page: Page) -> dict[str, Any]:
    stored = await page.evaluate(STORED)
    assert stored, "the tab holds no session"
    value: dict[str, Any] = json.loads(stored)
    return value


async def second_tab(context: BrowserContext, console: ConsoleSite) -> Page:
    """A new tab on the console: it has no session of its own, and asks the first one."""
    page = await context.new_page()
    await page.goto(f"{console.base}/console")
    await page.wait_for_selector("#work-view:not([hidden])", timeout=WAIT_MS)
    return page


async def test_two_tabs_refreshing_at_once_both_stay_logged_in(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=3)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        await context.clock.install()
        first = await context.new_page()
        await log_in(first, console.base, clerk)
        second = await second_tab(context, console)
        before = await tokens(first)
        assert await tokens(second) == before  # one session, shared

        # The access token is about to expire in both tabs: both refresh before their next
        # request, at the same moment, with the same refresh token.
        await context.clock.fast_forward(LATER_MS)
        await asyncio.gather(show_only(first, stock), show_only(second, stock))
        await wait_on_hand(first, stock, 3)
        await wait_on_hand(second, stock, 3)
        await first.wait_for_function(
            f"(old) => JSON.parse(({STORED})()).refresh_token !== old",
            arg=before["refresh_token"],
            timeout=WAIT_MS,
        )
        await second.wait_for_function(
            f"(old) => JSON.parse(({STORED})()).refresh_token !== old",
            arg=before["refresh_token"],
            timeout=WAIT_MS,
        )
        after = [await tokens(first), await tokens(second)]
        assert await first.is_visible("#work-view")
        assert await second.is_visible("#work-view")

    # Both ended with the same live session: its refresh token is still good at the server
    # (presenting a used one would have revoked the whole session).
    assert after[0]["refresh_token"] == after[1]["refresh_token"]
    response = await refresh_grant(console.http, after[0]["refresh_token"])
    assert response.status_code == 200, response.text


async def test_logging_out_in_one_tab_logs_out_the_other(console: ConsoleSite) -> None:
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        first = await context.new_page()
        await log_in(first, console.base, clerk)
        second = await second_tab(context, console)
        refresh_token = (await tokens(second))["refresh_token"]

        await first.click("#logout")
        await second.wait_for_selector("#login-view:not([hidden])", timeout=WAIT_MS)
        assert await second.evaluate(STORED) is None
        assert await first.evaluate(STORED) is None

    # The session ended at the server too.
    response = await refresh_grant(console.http, refresh_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_tab_of_another_browser_is_not_logged_in(console: ConsoleSite) -> None:
    clerk = await console.user(Role.CLERK)
    async with console.context() as one, console.context() as other:
        await log_in(await one.new_page(), console.base, clerk)
        page = await other.new_page()
        await page.goto(f"{console.base}/console")
        await page.wait_for_selector("#login-view:not([hidden])", timeout=WAIT_MS)
        assert await page.evaluate(STORED) is None
