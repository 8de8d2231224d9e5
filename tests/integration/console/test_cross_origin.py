"""The console's pages served from another origin, in a real browser: from an origin in
CORS_ORIGINS they log in, read the board, follow the live feed, post with an Idempotency-Key
and edit with If-Match from an ETag, all through CORS; from an origin that is not allowed the
browser itself refuses the API's answers.

The tests skip, saying why, only where headless Chromium is not installed (CI installs it).
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Request

from src.models.user import Role
from tests.support.browser import WAIT_MS, needs_chromium
from tests.support.console import (
    ConsoleSite,
    log_in,
    open_product,
    post,
    screenshot,
    show_only,
    wait_on_hand,
)
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.stock import receive

pytestmark = needs_chromium

# Creates a location with the tab's token and returns what a script can read of the answer.
READ_HEADERS = """async (url) => {
    const token = JSON.parse(sessionStorage.getItem("stockroom.console.session")).access_token;
    const code = `X-${crypto.randomUUID().slice(0, 8)}`;
    const response = await fetch(url, {
        method: "POST",
        headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
        body: JSON.stringify({code, name: "Cross-origin shelf"}),
    });
    const seen = {status: response.status};
    for (const name of ["location", "etag", "ratelimit-limit", "ratelimit-remaining",
                        "x-request-id"]) {
        seen[name] = response.headers.get(name);
    }
    return seen;
}"""


async def test_an_allowed_origin_uses_the_api_through_cors(
    console: ConsoleSite, tmp_path: Path
) -> None:
    stock = await console.stock(on_hand=2)
    manager = await console.user(Role.MANAGER)
    async with console.context() as context:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        api_calls: list[str] = []
        page.on("request", lambda request: api_calls.append(request.url))
        await log_in(page, console.allowed, manager)
        assert page.url.startswith(console.allowed)
        await show_only(page, stock)
        await wait_on_hand(page, stock, 2)

        await post(page, stock, 5)
        await page.dblclick("#post-submit")
        await wait_on_hand(page, stock, 7)
        # Posted elsewhere: it arrives through the cross-origin event stream.
        await receive(console.http, stock.staff, stock.product, stock.location, 1)
        await wait_on_hand(page, stock, 8)

        # The ETag is readable across origins, so If-Match works.
        await open_product(page, stock)
        await page.fill("#product-reorder-point", "10")
        await page.click("#product-submit")
        await page.wait_for_selector("#product-ok:not(:empty)", timeout=WAIT_MS)
        await screenshot(page, tmp_path, "console-cross-origin")

        # A script of that origin reads the headers the API exposes to it.
        seen = await page.evaluate(READ_HEADERS, f"{console.base}/api/v1/locations")

    assert seen["status"] == 201
    assert seen["location"].startswith("/api/v1/locations/")
    assert seen["etag"] == '"v1"'
    assert int(seen["ratelimit-limit"]) > 0
    assert int(seen["ratelimit-remaining"]) >= 0
    assert seen["x-request-id"]

    assert any(url.startswith(f"{console.base}/api/v1/") for url in api_calls)
    assert errors == []
    assert await console.ledger(stock) == [2, 5, 1]
    product = await console.http.get(f"/api/v1/products/{stock.product['id']}", headers=stock.staff)
    assert (product.json()["reorder_point"], product.json()["version"]) == (10, 2)


async def test_an_origin_that_is_not_allowed_is_refused_by_the_browser(
    console: ConsoleSite,
) -> None:
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        messages: list[str] = []
        page.on("console", lambda message: messages.append(message.text))
        failed: list[Request] = []
        page.on("requestfailed", lambda request: failed.append(request))
        await page.goto(f"{console.refused}/console")
        await page.fill("#login-username", clerk.email)
        await page.fill("#login-password", DEFAULT_PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_selector("#login-error:not(:empty)", timeout=WAIT_MS)
        assert (await page.text_content("#login-error")) == (
            "The server could not be reached; try again."
        )
        assert await page.is_hidden("#work-view")
        assert await page.evaluate("() => sessionStorage.length") == 0

    assert [r.url for r in failed] == [f"{console.base}/api/v1/auth/token"]
    assert any("CORS policy" in text for text in messages), messages
