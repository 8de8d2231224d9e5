"""The web console in a real browser (headless Chromium, driven by Playwright) against a
served app: log in, the board and its live updates, posting with a double click, problems
shown at their fields (with the quantity available) and cleared once the form is edited,
issue, adjustment and transfer, the chart, and editing a product against a stale ETag.
Every test checks what the server holds afterwards, not only what the page shows.

The tests skip, saying why, only where that browser is not installed (CI installs it).
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

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
    wait_text,
)
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.stock import new_location, receive

pytestmark = needs_chromium


def watch(page: Page) -> list[str]:
    """The page's uncaught errors, collected as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def test_log_in_see_the_board_and_post_a_receipt_once_with_a_double_click(
    console: ConsoleSite, tmp_path: Path
) -> None:
    stock = await console.stock(on_hand=2)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        errors = watch(page)
        await log_in(page, console.base, clerk)
        await show_only(page, stock)
        await wait_on_hand(page, stock, 2)

        await post(page, stock, 5)
        await page.dblclick("#post-submit")
        await wait_on_hand(page, stock, 7)
        assert "on hand now 7" in await text(page, "#post-ok")

        # Someone else posts: the live feed changes the board, no reload.
        await receive(console.http, stock.staff, stock.product, stock.location, 3)
        await wait_on_hand(page, stock, 10)
        await screenshot(page, tmp_path, "console-board")

    assert await console.ledger(stock) == [2, 5, 3]  # the double click posted once
    assert errors == []


async def test_the_login_keeps_a_device_cookie_that_scripts_cannot_read(
    console: ConsoleSite,
) -> None:
    """The device token (docs/API.md, "Login throttling") reaches a same-origin console as
    an HttpOnly cookie, and its next login sends it back."""
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
        device = cookies["stockroom_device"]
        assert device["httpOnly"] is True
        assert device["sameSite"] == "Strict"
        assert device["path"] == "/api/v1/auth/token"
        assert "stockroom_device" not in await page.evaluate("() => document.cookie")

        await page.click("#logout")
        await page.wait_for_selector("#login-view:not([hidden])", timeout=WAIT_MS)
        await page.fill("#login-username", clerk.email)
        await page.fill("#login-password", DEFAULT_PASSWORD)
        async with page.expect_request(lambda r: r.url.endswith("/auth/token")) as sent:
            await page.click("#login-submit")
        headers = await (await sent.value).all_headers()
        assert f"stockroom_device={device['value']}" in headers.get("cookie", "")
        await page.wait_for_selector("#work-view:not([hidden])", timeout=WAIT_MS)


async def test_a_wrong_password_is_refused_on_the_form(console: ConsoleSite) -> None:
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await page.goto(f"{console.base}/console")
        await page.fill("#login-username", clerk.email)
        await page.fill("#login-password", DEFAULT_PASSWORD + "-wrong")
        await page.click("#login-submit")
        await page.wait_for_function(
            "() => document.querySelector('#login-error').textContent !== ''", timeout=WAIT_MS
        )
        assert "password" in (await text(page, "#login-error")).lower()
        assert await page.is_hidden("#work-view")
        stored = await page.evaluate("() => sessionStorage.length")
        assert stored == 0

        # Nothing entered: the form says so without asking the server.
        await page.fill("#login-password", "")
        await page.click("#login-submit")
        assert await text(page, "#login-error") == "Enter your email and password."


async def test_refused_postings_show_the_problem_and_post_nothing(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=3)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        errors = watch(page)
        await log_in(page, console.base, clerk)

        # More than on hand: 409, with the server's detail.
        await post(page, stock, 10, kind="issue")
        await page.click("#post-submit")
        await page.wait_for_selector("#post-error:not(:empty)", timeout=WAIT_MS)
        # The problem's `available` is shown, not only its detail.
        assert await text(page, "#post-error") == "Not enough stock available. Available: 3."

        # An adjustment without a reason: 422, shown at the reason field.
        await post(page, stock, -1, kind="adjustment")
        await page.click("#post-submit")
        await page.wait_for_selector("#post-reason-error:not(:empty)", timeout=WAIT_MS)
        assert await page.get_attribute("#post-reason", "aria-invalid") == "true"

        # No quantity: said at the field, nothing sent.
        await page.fill("#post-quantity", "")
        await page.click("#post-submit")
        assert await text(page, "#post-quantity-error") == "Enter a quantity."

    assert await console.ledger(stock) == [3]
    assert errors == []


async def test_a_problem_shown_is_cleared_once_its_field_is_edited(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=3)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        errors = watch(page)
        await log_in(page, console.base, clerk)
        await post(page, stock, -1, kind="adjustment")
        await page.click("#post-submit")
        await page.wait_for_selector("#post-reason-error:not(:empty)", timeout=WAIT_MS)
        assert "see errors" in await text(page, "#post-error")

        # Another field edited: the summary goes, the reason's own message stays (still true).
        await page.fill("#post-quantity", "-2")
        assert await text(page, "#post-error") == ""
        assert await text(page, "#post-reason-error") != ""
        assert await page.get_attribute("#post-reason", "aria-invalid") == "true"

        # The reason chosen: its message goes too.
        await page.select_option("#post-reason", "damage")
        assert await text(page, "#post-reason-error") == ""
        assert await page.get_attribute("#post-reason", "aria-invalid") is None
        await page.click("#post-submit")
        await wait_text(page, "#post-ok", "on hand now 1")
        assert await text(page, "#post-error") == ""

    assert await console.ledger(stock) == [3, -2]
    assert errors == []


async def test_a_problem_shown_stays_while_nothing_is_edited(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=3)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await post(page, stock, -1, kind="adjustment")
        await page.press("#post-quantity", "Enter")  # submitted from the field typed in
        await page.wait_for_selector("#post-reason-error:not(:empty)", timeout=WAIT_MS)
        # The focus moved to the reason and then elsewhere: no edit, so the problem stays.
        assert await page.evaluate("() => document.activeElement.id") == "post-reason"
        await page.click("#post-title")
        assert "see errors" in await text(page, "#post-error")
        assert await text(page, "#post-reason-error") != ""

    assert await console.ledger(stock) == [3]


async def test_switching_the_kind_clears_every_problem_shown(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=3)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await post(page, stock, 1, kind="adjustment")
        await page.click("#post-submit")
        await page.wait_for_selector("#post-reason-error:not(:empty)", timeout=WAIT_MS)

        # The reason is no longer asked for: neither it nor the summary is left behind.
        await page.select_option("#post-kind", "issue")
        assert await text(page, "#post-error") == ""
        assert await text(page, "#post-reason-error") == ""
        assert await page.get_attribute("#post-reason", "aria-invalid") is None

        # Too much for an issue: the new problem is shown, then goes with the next switch.
        await page.fill("#post-quantity", "5")
        await page.click("#post-submit")
        await wait_text(page, "#post-error", "Available: 3.")
        assert await console.ledger(stock) == [3]
        await page.select_option("#post-kind", "receipt")
        assert await text(page, "#post-error") == ""
        await page.click("#post-submit")
        await wait_text(page, "#post-ok", "on hand now 8")

    assert await console.ledger(stock) == [3, 5]


async def test_a_transfer_refused_for_stock_shows_what_the_source_has(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=2)
    shelf = await new_location(console.http, stock.staff)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await post(page, stock, 7, kind="transfer")
        await page.select_option("#post-to-location", shelf["id"])
        await page.click("#post-submit")
        await page.wait_for_selector("#post-error:not(:empty)", timeout=WAIT_MS)
        assert await text(page, "#post-error") == (
            "Not enough stock available at the source location. Available: 2."
        )

        # Nothing there at all: said as such.
        await page.select_option("#post-location", shelf["id"])
        await page.select_option("#post-to-location", stock.location["id"])
        await page.fill("#post-quantity", "1")
        await page.click("#post-submit")
        await wait_text(page, "#post-error", "Available: 0.")

    assert await console.ledger(stock) == [2]


async def test_issue_adjustment_and_transfer_post_from_the_form(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=10)
    shelf = await new_location(console.http, stock.staff)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await show_only(page, stock)
        await wait_on_hand(page, stock, 10)

        await post(page, stock, 4, kind="issue")
        await page.click("#post-submit")
        await wait_on_hand(page, stock, 6)

        await post(page, stock, -1, kind="adjustment")
        await page.select_option("#post-reason", "damage")
        await page.click("#post-submit")
        await wait_on_hand(page, stock, 5)

        await page.reload()  # the session survives a reload of the tab
        await page.wait_for_selector("#work-view:not([hidden])", timeout=WAIT_MS)
        await post(page, stock, 2, kind="transfer")
        assert await text(page, "#post-location-label") == "From location"
        await page.select_option("#post-to-location", shelf["id"])
        await page.click("#post-submit")
        await page.wait_for_selector("#post-ok:not(:empty)", timeout=WAIT_MS)
        assert await text(page, "#post-ok") == (
            "Moved 2; 3 left at the source, 2 at the destination."
        )

    assert await console.ledger(stock) == [10, -4, -1, -2, 2]


async def test_the_chart_draws_on_hand_over_time(console: ConsoleSite, tmp_path: Path) -> None:
    stock = await console.stock(on_hand=4)
    await console.stock()  # another product, which the chart must leave out
    manager = await console.user(Role.MANAGER)
    async with console.context() as context:
        page = await context.new_page()
        errors = watch(page)
        await log_in(page, console.base, manager)
        await open_product(page, stock)
        await page.wait_for_selector("#chart-svg path", timeout=WAIT_MS)
        assert "from 0 to 4 over the last 1 movements" in await text(page, "#chart-summary")

        # A movement arrives live: the chart is drawn again with it.
        await post(page, stock, 6)
        await page.click("#post-submit")
        await wait_text(page, "#chart-summary", "to 10")
        assert "from 0 to 10 over the last 2 movements" in await text(page, "#chart-summary")
        steps = await page.get_attribute("#chart-svg path", "d")
        assert steps is not None
        assert steps.count("V") == 2  # one step per movement
        await screenshot(page, tmp_path, "console-chart")
    assert errors == []


async def test_editing_a_product_against_a_stale_etag_shows_the_conflict(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(reorder_point=1)
    product_url = f"/api/v1/products/{stock.product['id']}"
    manager = await console.user(Role.MANAGER)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, manager)
        await open_product(page, stock)

        # Someone else changes it after the page read it.
        current = await console.http.get(product_url, headers=stock.staff)
        other = await console.http.patch(
            product_url,
            json={"name": "Renamed elsewhere"},
            headers={**stock.staff, "If-Match": current.headers["etag"]},
        )
        assert other.status_code == 200, other.text

        await page.fill("#product-reorder-point", "25")
        await page.click("#product-submit")
        await page.wait_for_selector("#product-error:not(:empty)", timeout=WAIT_MS)
        assert "Someone else changed this product" in await text(page, "#product-error")
        unchanged = (await console.http.get(product_url, headers=stock.staff)).json()
        assert (unchanged["name"], unchanged["reorder_point"]) == ("Renamed elsewhere", 1)

        # Reload shows their change; the edit made on it is saved.
        await page.click("#product-reload")
        await page.wait_for_function(
            "() => document.querySelector('#product-name').value === 'Renamed elsewhere'",
            timeout=WAIT_MS,
        )
        await page.fill("#product-reorder-point", "25")
        await page.click("#product-submit")
        await page.wait_for_selector("#product-ok:not(:empty)", timeout=WAIT_MS)

    saved = (await console.http.get(product_url, headers=stock.staff)).json()
    assert (saved["name"], saved["reorder_point"], saved["version"]) == (
        "Renamed elsewhere",
        25,
        3,
    )


async def test_a_clerk_cannot_save_a_product(console: ConsoleSite) -> None:
    stock = await console.stock(reorder_point=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await open_product(page, stock)
        await page.fill("#product-reorder-point", "9")
        await page.click("#product-submit")
        await page.wait_for_selector("#product-error:not(:empty)", timeout=WAIT_MS)
        assert "role" in (await text(page, "#product-error")).lower()

    product = await console.http.get(f"/api/v1/products/{stock.product['id']}", headers=stock.staff)
    assert (product.json()["reorder_point"], product.json()["version"]) == (1, 1)


async def test_on_a_phone_with_only_the_keyboard(console: ConsoleSite, tmp_path: Path) -> None:
    stock = await console.stock(on_hand=2)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await page.set_viewport_size({"width": 360, "height": 740})
        await page.goto(f"{console.base}/console")
        await page.wait_for_selector("#login-view:not([hidden])", timeout=WAIT_MS)
        # The email field has the focus; Tab and Enter do the rest.
        await page.keyboard.type(clerk.email)
        await page.keyboard.press("Tab")
        await page.keyboard.type(DEFAULT_PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#work-view:not([hidden])", timeout=WAIT_MS)
        await show_only(page, stock)
        await wait_on_hand(page, stock, 2)

        # Nothing is wider than the phone: the table scrolls inside its own region.
        widths = await page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], widths
        await post(page, stock, 1)
        await page.focus("#post-quantity")
        await page.keyboard.press("Enter")  # submits the form
        await wait_on_hand(page, stock, 3)
        await screenshot(page, tmp_path, "console-phone")

    assert await console.ledger(stock) == [2, 1]
