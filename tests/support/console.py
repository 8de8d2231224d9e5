"""The web console in a real browser: a served app on a database of the test session's, the
same console pages served from two other origins (one allowed by CORS_ORIGINS, one not),
headless Chromium (Debian's package, driven by Playwright), and shortcuts for what the
browser tests repeat.

Screenshots go to TEST_ARTIFACTS_DIR when it is set (CI keeps them), else beside the test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from src.api.console import FILES
from src.main import create_app
from src.models.user import Role, User
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from tests.support.factories import DEFAULT_PASSWORD, create_user, login_headers
from tests.support.servers import free_port, running
from tests.support.settings import make_settings
from tests.support.stock import new_location, new_product, receive

CONSOLE_FILES = Path(__file__).resolve().parents[2] / "src" / "console"
API_BASE_META = '<meta name="stockroom-api-base" content="">'

# The on-hand cell of the board row of a SKU (undefined while the row is not shown).
ON_HAND = (
    "(sku) => [...document.querySelectorAll('table.board tbody tr')]"
    ".find((row) => row.cells[0].textContent.startsWith(sku))?.cells[3].textContent"
)


def elsewhere(api_base: str) -> Starlette:
    """The console's files as another site would host them: index.html naming the API's
    origin, under a CSP that lets the pages connect to it."""
    page = (CONSOLE_FILES / "index.html").read_text(encoding="utf-8")
    assert API_BASE_META in page
    page = page.replace(API_BASE_META, f'<meta name="stockroom-api-base" content="{api_base}">')
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {api_base}; base-uri 'none'; form-action 'none'"
    )

    async def index(_: Request) -> Response:
        return Response(page, media_type="text/html", headers={"Content-Security-Policy": csp})

    assets = {name: (CONSOLE_FILES / name).read_bytes() for name in FILES if name != "index.html"}

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return Response(status_code=404)
        headers = {"Content-Security-Policy": csp}
        return Response(assets[name], media_type=FILES[name], headers=headers)

    return Starlette(routes=[Route("/console", index), Route("/console/{name}", asset)])


@dataclass
class Stock:
    product: dict[str, Any]
    location: dict[str, Any]
    staff: dict[str, str]  # a manager's headers


@dataclass
class ConsoleSite:
    base: str  # the API's origin, which serves /console too
    allowed: str  # another origin, in CORS_ORIGINS, serving the same pages
    refused: str  # a third origin serving them, not in CORS_ORIGINS
    http: httpx.AsyncClient
    browser: Browser
    database_url: str

    async def user(self, role: Role = Role.CLERK) -> User:
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                user = await create_user(connection, role=role)
                await connection.commit()
        finally:
            await engine.dispose()
        return user

    async def stock(self, on_hand: int = 0, **product: Any) -> Stock:
        """A product and a location of the test's own, with `on_hand` received there."""
        staff = await login_headers(self.http, await self.user(Role.MANAGER))
        item = await new_product(self.http, staff, **product)
        location = await new_location(self.http, staff)
        if on_hand:
            await receive(self.http, staff, item, location, on_hand)
        return Stock(item, location, staff)

    async def ledger(self, stock: Stock) -> list[int]:
        """The quantities of the product's movements, oldest first."""
        response = await self.http.get(
            "/api/v1/stock/movements",
            params={"product_id": stock.product["id"], "limit": "100"},
            headers=stock.staff,
        )
        assert response.status_code == 200, response.text
        return [m["quantity"] for m in reversed(response.json()["items"])]

    @contextlib.asynccontextmanager
    async def context(self) -> AsyncIterator[BrowserContext]:
        context = await self.browser.new_context(viewport={"width": 1000, "height": 900})
        try:
            yield context
        finally:
            await context.close()


@contextlib.asynccontextmanager
async def console_site(database_url: str, tmp_path: Path) -> AsyncIterator[ConsoleSite]:
    allowed_port, refused_port = free_port(), free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    # Every browser test logs in from 127.0.0.1 against this one app: the login limits
    # (tested apart) must not throttle the suite.
    settings = make_settings(
        database_url,
        tmp_path,
        cors_origins=[allowed],
        login_rate_limit_per_client="10000/minute",
    )
    async with running(create_app(settings)) as base, contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running(elsewhere(base), allowed_port))
        refused = await stack.enter_async_context(running(elsewhere(base), refused_port))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=10))
        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.push_async_callback(browser.close)
        yield ConsoleSite(base, allowed, refused, http, browser, database_url)


async def log_in(page: Page, origin: str, user: User) -> None:
    """Open the console at `origin` and log in as `user`; returns once the board is shown
    and following the live feed (a movement posted from elsewhere after that shows)."""
    await page.goto(f"{origin}/console")
    await page.fill("#login-username", user.email)
    await page.fill("#login-password", DEFAULT_PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#work-view:not([hidden])", timeout=WAIT_MS)
    await page.wait_for_function(
        "() => document.querySelector('#live-status').textContent === 'Live'", timeout=WAIT_MS
    )


async def pick(page: Page, picker: str, product: dict[str, Any]) -> None:
    """Choose `product` in a product picker (`post-product`, `filter-product` or
    `product-picker`) as a user does: type its SKU, click it in the list of matches. Nothing
    is typed when it is the product chosen already."""
    chosen = f"#{picker}-id"
    if await page.eval_on_selector(chosen, "(input) => input.value") == product["id"]:
        return
    await page.fill(f"#{picker}", product["sku"])
    option = f'#{picker}-list [role="option"][data-id="{product["id"]}"]'
    await page.click(option, timeout=WAIT_MS)
    await page.wait_for_function(
        "([selector, id]) => document.querySelector(selector).value === id",
        arg=[chosen, product["id"]],
        timeout=WAIT_MS,
    )


async def show_only(page: Page, stock: Stock) -> None:
    """Filter the board to the stock's product (other tests' rows share the database)."""
    await pick(page, "filter-product", stock.product)


async def wait_on_hand(page: Page, stock: Stock, expected: int) -> None:
    await page.wait_for_function(
        f"([sku, expected]) => ({ON_HAND})(sku) === expected",
        arg=[stock.product["sku"], str(expected)],
        timeout=WAIT_MS,
    )


async def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A screenshot of the page kept as an artifact of the run."""
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path) / f"{name}.png"
    image = await page.screenshot(path=str(path), full_page=True)  # makes the folder
    assert image.startswith(b"\x89PNG")
    return path


async def post(page: Page, stock: Stock, quantity: int, *, kind: str = "receipt") -> None:
    """Fill the posting form for the stock's product and location (not submitted)."""
    await page.select_option("#post-kind", kind)
    await pick(page, "post-product", stock.product)
    await page.select_option("#post-location", stock.location["id"])
    await page.fill("#post-quantity", str(quantity))


async def open_product(page: Page, stock: Stock) -> None:
    """Choose the stock's product in the product panel; returns once the editor holds it."""
    await pick(page, "product-picker", stock.product)
    await page.wait_for_function(
        "(name) => document.querySelector('#product-name').value === name",
        arg=stock.product["name"],
        timeout=WAIT_MS,
    )


async def wait_text(page: Page, selector: str, text: str) -> None:
    """Wait until the element's text contains `text`."""
    await page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.textContent || '')"
        ".includes(text)",
        arg=[selector, text],
        timeout=WAIT_MS,
    )
