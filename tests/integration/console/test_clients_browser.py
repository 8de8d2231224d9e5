"""The console's API clients page in a real browser: an admin creates a client, copies its
secret (shown once, kept in no storage, gone once dismissed or reloaded), the secret then
works at the token endpoint, and revoking it (after a confirm) makes the next token request
fail with invalid_client. Whoever is not an admin never sees the page, and the form's
refusals are shown at their fields with nothing created.

The tests skip, saying why, only where that browser is not installed (CI installs it).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from src.models.user import Role
from tests.support.browser import WAIT_MS, needs_chromium
from tests.support.console import ConsoleSite, log_in, screenshot, wait_text
from tests.support.factories import login_headers

pytestmark = needs_chromium

TOKEN = "/api/v1/auth/token"


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def client_grant(console: ConsoleSite, client_id: str, secret: str) -> Any:
    """A client credentials grant with HTTP Basic, as a system would ask for a token."""
    return await console.http.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "stock:read"},
        auth=(client_id, secret),
    )


async def listed(console: ConsoleSite, admin: dict[str, str], name: str) -> list[dict[str, Any]]:
    response = await console.http.get("/api/v1/clients?limit=100", headers=admin)
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["name"] == name]


async def open_clients(page: Page, console: ConsoleSite) -> None:
    admin = await console.user(Role.ADMIN)
    await log_in(page, console.base, admin)
    await page.wait_for_selector("#clients-view:not([hidden])", timeout=WAIT_MS)


async def test_an_admin_creates_a_client_copies_its_secret_once_and_revokes_it(
    console: ConsoleSite, tmp_path: Path
) -> None:
    name = f"Shop {secrets.token_hex(4)}"
    async with console.context() as context:
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.base)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await open_clients(page, console)

        await page.fill("#client-name", name)
        await page.check("#client-scope-stock-read")
        await page.check("#client-scope-stock-write")
        await page.fill("#client-rate-limit", "600/minute")
        await page.click("#client-submit")
        await page.wait_for_selector("#client-secret:not([hidden])", timeout=WAIT_MS)
        secret = await text(page, "#client-secret-value")
        client_id = await text(page, "#client-secret-id")
        assert secret.startswith("srs_")
        assert client_id

        # The panel has the focus: the keyboard reaches the copy button.
        await page.keyboard.press("Tab")
        assert await page.evaluate("() => document.activeElement.id") == "client-secret-copy"
        await page.keyboard.press("Enter")
        await wait_text(page, "#client-secret-ok", "Copied")
        assert await page.evaluate("() => navigator.clipboard.readText()") == secret
        await wait_text(page, "#clients-rows", name)
        row = await text(page, f'#clients-rows tr:has-text("{name}")')
        assert client_id in row
        assert "stock:read stock:write" in row
        assert "600/minute" in row
        assert "Never" in row  # not used yet
        stored = await page.evaluate(
            "() => JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
        )
        assert secret not in stored
        await screenshot(page, tmp_path, "console-clients-secret")

        # What the page showed is a working secret.
        granted = await client_grant(console, client_id, secret)
        assert granted.status_code == 200, granted.text
        token = granted.json()["access_token"]
        assert granted.json()["scope"] == "stock:read"

        await page.click("#client-secret-dismiss")
        assert await page.is_hidden("#client-secret")
        assert secret not in await page.content()
        await page.reload()
        await page.wait_for_selector("#clients-view:not([hidden])", timeout=WAIT_MS)
        await wait_text(page, "#clients-rows", name)
        assert await page.is_hidden("#client-secret")
        assert secret not in await page.content()

        # A revocation asks first: declined, nothing changes.
        revoke = page.get_by_role("button", name=f"Revoke {name}")
        page.once("dialog", lambda dialog: dialog.dismiss())
        await revoke.click()
        assert (await client_grant(console, client_id, secret)).status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        await revoke.click()
        await wait_text(page, "#clients-ok", f"Revoked {name}")
        await screenshot(page, tmp_path, "console-clients-revoked")
    assert errors == []

    refused = await client_grant(console, client_id, secret)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    old = await console.http.get(
        "/api/v1/stock/levels?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    assert old.status_code == 401


async def test_someone_who_is_not_an_admin_sees_no_clients_page(console: ConsoleSite) -> None:
    for role in (Role.CLERK, Role.MANAGER):
        user = await console.user(role)
        async with console.context() as context:
            page = await context.new_page()
            async with page.expect_response(lambda r: r.url.endswith("/users/me")) as asked:
                await log_in(page, console.base, user)
            assert (await asked.value).status == 200
            assert await page.is_hidden("#clients-view")
            assert await page.locator("#clients-rows tr").count() == 0
        # The API refuses them too: hiding the page is a courtesy, not the guard.
        staff = await login_headers(console.http, user)
        assert (await console.http.get("/api/v1/clients", headers=staff)).status_code == 403


async def test_the_form_refuses_what_it_cannot_create_and_creates_nothing(
    console: ConsoleSite, tmp_path: Path
) -> None:
    name = f"ERP {secrets.token_hex(4)}"
    async with console.context() as context:
        page = await context.new_page()
        await page.set_viewport_size({"width": 360, "height": 740})  # on a phone
        await open_clients(page, console)
        admin = await login_headers(console.http, await console.user(Role.ADMIN))

        # No name, then no scope: said at the field without asking the server.
        await page.check("#client-scope-catalog-read")
        await page.click("#client-submit")
        assert await text(page, "#client-name-error") == "Enter a name."
        assert await page.get_attribute("#client-name", "aria-invalid") == "true"
        await page.fill("#client-name", name)
        await page.uncheck("#client-scope-catalog-read")
        await page.click("#client-submit")
        assert await text(page, "#client-scopes-error") == "Choose at least one scope."

        # A rate limit the server cannot read: its 422 is shown at the field.
        await page.check("#client-scope-catalog-read")
        await page.fill("#client-rate-limit", "lots")
        await page.click("#client-submit")
        await page.wait_for_selector("#client-rate-limit-error:not(:empty)", timeout=WAIT_MS)
        assert await page.get_attribute("#client-rate-limit", "aria-invalid") == "true"
        assert await page.is_hidden("#client-secret")
        # Nothing is wider than the phone: the clients table scrolls inside its own region.
        widths = await page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], widths
        await screenshot(page, tmp_path, "console-clients-phone")
    assert await listed(console, admin, name) == []
