"""The product pickers in a real browser, among hundreds of products: typing finds one
(sent after a pause, one search per pause, a stale answer never shown), the keyboard or
a scanner's Enter or Tab chooses it, the posting form posts it, the board filters by it and the
filter clears; text that chose nothing posts nothing, archived products are not offered,
and offline the pickers offer the products seen.

The tests skip, saying why, only where headless Chromium is not installed (CI installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Route
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from src.models.catalog import Product
from src.models.user import Role
from tests.support.browser import WAIT_MS, needs_chromium
from tests.support.console import (
    ConsoleSite,
    log_in,
    pick,
    post,
    screenshot,
    show_only,
    wait_on_hand,
    wait_text,
)
from tests.support.stock import new_location

pytestmark = needs_chromium

SEEDED = 320
OPTIONS = "#post-product-list [role='option']"
# The SKUs of the board's rows.
BOARD_SKUS = (
    "() => [...document.querySelectorAll('table.board tbody tr')]"
    ".map((row) => row.cells[0].firstChild.textContent)"
)


@dataclass
class Seeded:
    tag: str  # in every seeded SKU and name
    products: list[dict[str, Any]]  # by number; the last one archived


@pytest.fixture(scope="module")
async def seeded(console: ConsoleSite) -> Seeded:
    """Hundreds of products, written straight to the database (the API would take long)."""
    tag = uuid.uuid4().hex[:6].upper()
    rows = [
        {"sku": f"PK-{tag}-{n:03d}", "name": f"Picker part {n:03d} {tag}", "is_archived": False}
        for n in range(SEEDED)
    ]
    rows[-1]["is_archived"] = True
    engine = create_async_engine(console.database_url)
    try:
        async with engine.begin() as connection:
            made = await connection.execute(
                insert(Product).values(rows).returning(Product.id, Product.sku, Product.name)
            )
            products = [{"id": str(r.id), "sku": r.sku, "name": r.name} for r in made]
    finally:
        await engine.dispose()
    return Seeded(tag, sorted(products, key=lambda p: str(p["sku"])))


def searches(page: Page) -> list[str]:
    """The `q` of every product search the page sends, as it sends them."""
    sent: list[str] = []

    def heard(request: Request) -> None:
        url = urlsplit(request.url)
        if url.path.endswith("/api/v1/products") and "q" in parse_qs(url.query):
            sent.append(parse_qs(url.query)["q"][0])

    page.on("request", heard)
    return sent


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def chosen(page: Page, picker: str) -> str:
    value: str = await page.eval_on_selector(f"#{picker}-id", "(input) => input.value")
    return value


async def ledger(console: ConsoleSite, staff: dict[str, str], product_id: str) -> list[int]:
    response = await console.http.get(
        "/api/v1/stock/movements", params={"product_id": product_id}, headers=staff
    )
    assert response.status_code == 200, response.text
    return [m["quantity"] for m in reversed(response.json()["items"])]


async def test_typing_finds_one_of_hundreds_and_the_keyboard_chooses_and_posts_it(
    console: ConsoleSite, seeded: Seeded, tmp_path: Path
) -> None:
    staff = (await console.stock()).staff
    location = await new_location(console.http, staff)
    wanted = seeded.products[217]
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        sent = searches(page)

        # Many match: the first twenty are offered, and the page says to type more.
        await page.fill("#post-product", seeded.tag)
        await wait_text(page, "#post-product-status", "type more")
        assert await page.locator(OPTIONS).count() == 20
        assert await page.get_attribute("#post-product", "aria-expanded") == "true"
        await screenshot(page, tmp_path, "console-picker")

        await page.fill("#post-product", wanted["sku"].lower())  # case does not matter
        await wait_text(page, "#post-product-status", "1 product found.")
        assert await page.locator(OPTIONS).all_text_contents() == [
            f"{wanted['sku']} · {wanted['name']}"
        ]
        await page.keyboard.press("ArrowDown")
        option = await page.get_attribute("#post-product", "aria-activedescendant")
        assert option is not None
        assert await page.get_attribute(f"#{option}", "aria-selected") == "true"
        await page.keyboard.press("Enter")  # chooses; the form is not sent
        assert await chosen(page, "post-product") == wanted["id"]
        assert await page.input_value("#post-product") == f"{wanted['sku']} · {wanted['name']}"
        assert await page.get_attribute("#post-product", "aria-expanded") == "false"
        assert await text(page, "#post-product-error") == ""

        await page.select_option("#post-location", location["id"])
        await page.fill("#post-quantity", "5")
        await page.click("#post-submit")
        await wait_text(page, "#post-ok", "on hand now 5")

    assert sent == [seeded.tag, wanted["sku"].lower()]
    assert await ledger(console, staff, wanted["id"]) == [5]


async def test_a_scanned_code_and_enter_choose_the_product_found(
    console: ConsoleSite, seeded: Seeded
) -> None:
    """A scanner types the code and Enter at once, before the search has answered."""
    wanted = seeded.products[42]
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await page.fill("#post-product", wanted["sku"])
        await page.press("#post-product", "Enter")
        await page.wait_for_function(
            "(id) => document.querySelector('#post-product-id').value === id",
            arg=wanted["id"],
            timeout=WAIT_MS,
        )
        # Enter chose the product: it did not send the form.
        assert await text(page, "#post-quantity-error") == ""
        assert await text(page, "#post-error") == ""

        # Tab leaves the field with the option the arrow keys are on.
        other = seeded.products[43]
        await page.fill("#post-product", other["sku"])
        await wait_text(page, "#post-product-status", "1 product found.")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Tab")
        assert await chosen(page, "post-product") == other["id"]
        assert await page.evaluate("() => document.activeElement.id") == "post-location"


async def test_typing_sends_one_search_per_pause(console: ConsoleSite, seeded: Seeded) -> None:
    wanted = seeded.products[123]
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        sent = searches(page)
        await page.click("#filter-product")
        await page.keyboard.type(wanted["sku"], delay=20)  # 13 keys, no pause
        await wait_text(page, "#filter-product-status", "1 product found.")
        await asyncio.sleep(0.4)  # nothing more comes
        assert sent == [wanted["sku"]]


async def test_an_answer_overtaken_by_a_newer_search_is_never_shown(
    console: ConsoleSite, seeded: Seeded
) -> None:
    first, second = seeded.products[10], seeded.products[20]
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        sent = searches(page)

        async def slow_first(route: Route) -> None:
            if parse_qs(urlsplit(route.request.url).query).get("q") == [first["sku"]]:
                await asyncio.sleep(1.0)
            # Aborted by the page meanwhile (the point), it cannot be continued.
            with contextlib.suppress(PlaywrightError):
                await route.continue_()

        await page.route("**/api/v1/products?*", slow_first)
        async with page.expect_request(lambda request: first["sku"] in request.url):
            await page.fill("#post-product", first["sku"])
        await page.fill("#post-product", second["sku"])
        await wait_text(page, "#post-product-status", "1 product found.")
        await asyncio.sleep(1.3)  # the first answer would have come by now
        assert await page.locator(OPTIONS).all_text_contents() == [
            f"{second['sku']} · {second['name']}"
        ]
        assert sent == [first["sku"], second["sku"]]


async def test_the_board_filter_shows_only_the_picked_product_then_clears(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=2)
    other = await console.stock(on_hand=3)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await show_only(page, stock)
        await wait_on_hand(page, stock, 2)
        assert await page.evaluate(BOARD_SKUS) == [stock.product["sku"]]
        assert await page.is_visible("#filter-product-clear")

        # Cleared with its button: every product's rows again.
        await page.click("#filter-product-clear")
        assert await chosen(page, "filter-product") == ""
        assert await page.input_value("#filter-product") == ""
        await page.wait_for_function(f"() => ({BOARD_SKUS})().length > 1", timeout=WAIT_MS)
        assert await page.is_hidden("#filter-product-clear")

        # Another product, then the text emptied and Enter: cleared as well.
        await show_only(page, other)
        await wait_on_hand(page, other, 3)
        assert await page.evaluate(BOARD_SKUS) == [other.product["sku"]]
        await page.fill("#filter-product", "")
        await page.press("#filter-product", "Enter")
        assert await chosen(page, "filter-product") == ""
        await page.wait_for_function(f"() => ({BOARD_SKUS})().length > 1", timeout=WAIT_MS)


async def test_text_that_chose_nothing_posts_nothing(console: ConsoleSite, seeded: Seeded) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await page.select_option("#post-location", stock.location["id"])
        await page.fill("#post-quantity", "4")

        # Nothing matches: said so, nothing offered.
        await page.fill("#post-product", f"no-such-{seeded.tag}")
        await wait_text(page, "#post-product-status", "No product matches.")
        assert await page.locator(OPTIONS).count() == 0
        await page.click("#post-submit")
        await wait_text(page, "#post-product-error", "Choose a product")
        assert await page.get_attribute("#post-product", "aria-invalid") == "true"

        # An archived product is not offered.
        await page.fill("#post-product", seeded.products[-1]["sku"])
        await wait_text(page, "#post-product-status", "No product matches.")
        # Typing cleared the field's message; Escape goes back to what was chosen: nothing.
        assert await text(page, "#post-product-error") == ""
        await page.press("#post-product", "Escape")
        assert await page.input_value("#post-product") == ""

        # Chosen, then other text typed and left: the product chosen stays, and is posted.
        await pick(page, "post-product", stock.product)
        await page.fill("#post-product", seeded.tag)
        await wait_text(page, "#post-product-status", "type more")
        await page.press("#post-product", "Escape")  # closes the list
        assert await page.get_attribute("#post-product", "aria-expanded") == "false"
        await page.click("#post-submit")
        await wait_text(page, "#post-ok", "on hand now 5")
        assert await page.input_value("#post-product") == (
            f"{stock.product['sku']} · {stock.product['name']}"
        )

    assert await console.ledger(stock) == [1, 4]


async def test_offline_the_pickers_offer_the_products_seen(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=1)
    unseen = await console.stock()
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await show_only(page, stock)  # seen: found by the filter's search
        await wait_on_hand(page, stock, 1)

        await context.set_offline(True)
        await wait_text(page, "#live-status", "Offline")
        await page.fill("#post-product", unseen.product["sku"])
        await wait_text(page, "#post-product-status", "cannot be reached")
        assert await page.locator(OPTIONS).count() == 0
        await page.fill("#post-product", stock.product["sku"])
        await wait_text(page, "#post-product-status", "1 product found. The server cannot")
        assert await page.locator(OPTIONS).count() == 1
        await post(page, stock, 6)
        await page.click("#post-submit")
        await wait_text(
            page, "#outbox-list", f"Receive 6 \N{MULTIPLICATION SIGN} {stock.product['sku']}"
        )
        assert await console.ledger(stock) == [1]

        await context.set_offline(False)
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)
        await wait_on_hand(page, stock, 7)

    assert await console.ledger(stock) == [1, 6]
