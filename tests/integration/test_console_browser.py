"""The web console in a real browser (headless Chromium, Debian's package, driven by
Playwright) against a served app: log in, see the board, post a receipt with a double click
and see the number change without a reload, one movement in the ledger. A screenshot of the
board is kept with the test's files.

The test skips, saying why, only where that browser is not installed (CI installs it).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright
from sqlalchemy.ext.asyncio import create_async_engine

from src.main import create_app
from src.models.user import Role
from tests.conftest import make_settings
from tests.integration.test_stream_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from tests.support.factories import DEFAULT_PASSWORD, create_user, login_headers
from tests.support.servers import running
from tests.support.stock import new_location, new_product, receive

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="headless Chromium is not installed (Debian: apt-get install chromium)",
)

ON_HAND = (
    "(sku) => [...document.querySelectorAll('table.board tbody tr')]"
    ".find((row) => row.cells[0].textContent === sku)?.cells[3].textContent"
)


async def test_log_in_see_the_board_and_post_a_receipt_once_with_a_double_click(
    own_database_url: str, tmp_path: Path
) -> None:
    engine = create_async_engine(own_database_url)
    async with engine.connect() as connection:
        clerk = await create_user(connection, role=Role.CLERK)
        manager = await create_user(connection, role=Role.MANAGER)
        await connection.commit()
    await engine.dispose()
    app = create_app(make_settings(own_database_url, tmp_path))

    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        staff = await login_headers(http, manager)
        product = await new_product(http, staff)
        location = await new_location(http, staff)
        await receive(http, staff, product, location, 2)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1000, "height": 760})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(f"{base}/console")
                await page.fill("#login-username", clerk.email)
                await page.fill("#login-password", DEFAULT_PASSWORD)
                await page.click("#login-submit")
                sku = product["sku"]
                await page.wait_for_function(
                    f"(sku) => ({ON_HAND})(sku) === '2'", arg=sku, timeout=WAIT_MS
                )

                await page.select_option("#receipt-product", product["id"])
                await page.select_option("#receipt-location", location["id"])
                await page.fill("#receipt-quantity", "5")
                await page.dblclick("#receipt-submit")
                # Live: the board changes without a reload.
                await page.wait_for_function(
                    f"(sku) => ({ON_HAND})(sku) === '7'", arg=sku, timeout=WAIT_MS
                )
                await page.screenshot(path=str(tmp_path / "console-board.png"), full_page=True)
            finally:
                await browser.close()

        ledger = await http.get(
            "/api/v1/stock/movements", params={"product_id": product["id"]}, headers=staff
        )
    quantities = sorted(m["quantity"] for m in ledger.json()["items"])
    assert quantities == [2, 5]  # the double click posted once
    assert errors == []
    assert (tmp_path / "console-board.png").stat().st_size > 0
