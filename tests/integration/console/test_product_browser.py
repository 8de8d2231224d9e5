"""The console's product editor and barcodes, in headless Chromium: the field shows them
space-separated, a save replaces the list, and a GTIN with a wrong check digit is shown at
the field while the product keeps its barcodes."""

from __future__ import annotations

from playwright.async_api import Page

from src.models.user import Role
from tests.support.barcodes import new_gtin, wrong_check_digit
from tests.support.browser import WAIT_MS, needs_chromium
from tests.support.console import ConsoleSite, log_in, open_product

pytestmark = needs_chromium


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def barcodes_field(page: Page) -> str:
    return await page.input_value("#product-barcodes")


async def test_barcodes_are_edited_as_space_separated_gtins(console: ConsoleSite) -> None:
    stock = await console.stock(reorder_point=1)
    product_url = f"/api/v1/products/{stock.product['id']}"
    first, second = new_gtin(13), new_gtin(12)
    manager = await console.user(Role.MANAGER)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, manager)
        await open_product(page, stock)
        assert await barcodes_field(page) == ""

        await page.fill("#product-barcodes", f" {first}   {second} ")
        await page.click("#product-submit")
        await page.wait_for_selector("#product-ok:not(:empty)", timeout=WAIT_MS)
        assert await barcodes_field(page) == f"{first} {second}"

        await page.fill("#product-barcodes", f"{first} {wrong_check_digit(second)}")
        await page.click("#product-submit")
        await page.wait_for_selector("#product-barcodes-error:not(:empty)", timeout=WAIT_MS)
        assert "check digit" in await text(page, "#product-barcodes-error")
        assert await page.get_attribute("#product-barcodes", "aria-invalid") == "true"

    saved = (await console.http.get(product_url, headers=stock.staff)).json()
    assert (saved["barcodes"], saved["version"]) == ([first, second], 2)
