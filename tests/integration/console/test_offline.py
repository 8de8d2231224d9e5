"""The console on patchy Wi-Fi, in a real browser: postings made offline wait in IndexedDB,
shown as pending, and are posted exactly once when the connection returns (one discarded
is never sent); a posting whose answer was lost is sent again with its key and still posted
once; one refused by a failing gateway, or because the session ended, waits and is posted
once later; one kept over a day (longer than the server remembers keys) is held, not sent.
The form's notice that a posting will be sent says "Sent" once it was, and goes when the
posting leaves the outbox otherwise (refused, discarded), also when that happens while the
posting is still being stored.

The tests skip, saying why, only where headless Chromium is not installed (CI installs it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, Route

from src.models.user import Role
from tests.support.browser import WAIT_MS, needs_chromium
from tests.support.console import (
    ConsoleSite,
    Stock,
    log_in,
    pick,
    post,
    screenshot,
    show_only,
    wait_on_hand,
    wait_text,
)
from tests.support.factories import DEFAULT_PASSWORD

pytestmark = needs_chromium

PENDING = "#outbox-list li.pending"
MOVEMENTS = "**/api/v1/stock/movements"
DAY_MS = 24 * 60 * 60 * 1000
# How many postings the browser's IndexedDB outbox holds.
STORED_COUNT = """() => new Promise((resolve, reject) => {
    const open = indexedDB.open("stockroom.console");
    open.onsuccess = () => {
        const all = open.result.transaction("outbox").objectStore("outbox").count();
        all.onsuccess = () => { resolve(all.result); open.result.close(); };
        all.onerror = () => reject(all.error);
    };
    open.onerror = () => reject(open.error);
})"""


async def post_through(
    page: Page, handler: Callable[[Route], Awaitable[None]], stock: Stock, quantity: int
) -> None:
    """Post a receipt with `handler` between the page and the API; it ends up pending."""
    await page.route(MOVEMENTS, handler)
    await post(page, stock, quantity)
    await page.click("#post-submit")
    await page.wait_for_selector(PENDING, timeout=WAIT_MS)


async def stored(page: Page) -> int:
    count: int = await page.evaluate(STORED_COUNT)
    return count


async def until_stored(page: Page, expected: int) -> None:
    """Wait until the outbox in the browser's storage holds `expected` postings."""
    async with asyncio.timeout(WAIT_MS / 1000):
        while True:
            if await stored(page) == expected:
                return
            await asyncio.sleep(0.05)


async def test_postings_made_offline_are_sent_once_when_back_online(
    console: ConsoleSite, tmp_path: Path
) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await show_only(page, stock)
        await wait_on_hand(page, stock, 1)

        await context.set_offline(True)
        await wait_text(page, "#live-status", "Offline")
        for count, quantity in enumerate((3, 4, 9), start=1):
            await post(page, stock, quantity)
            await page.click("#post-submit")
            await page.wait_for_function(
                "(n) => document.querySelectorAll('#outbox-list li.pending').length === n",
                arg=count,
                timeout=WAIT_MS,
            )
        labels = await page.locator(f"{PENDING} span").all_text_contents()
        assert [label.split(" \N{MULTIPLICATION SIGN} ")[0] for label in labels] == [
            "Receive 3",
            "Receive 4",
            "Receive 9",
        ]
        assert all(label.endswith("(pending)") for label in labels)
        assert "You are offline." in (await page.text_content("#post-ok") or "")
        # The last one was a mistake: discarded, it is never sent.
        await page.click(f"{PENDING}:nth-child(3) button")
        await page.wait_for_function(
            "() => document.querySelectorAll('#outbox-list li.pending').length === 2",
            timeout=WAIT_MS,
        )
        # The notice was about that one: it no longer says it will be sent.
        assert await page.text_content("#post-ok") == ""
        await screenshot(page, tmp_path, "console-offline")
        assert await console.ledger(stock) == [1]  # nothing reached the server yet

        await context.set_offline(False)
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)
        await wait_on_hand(page, stock, 8)
        # The outbox is empty in the browser's storage too, not only on the page.
        assert await stored(page) == 0

    assert await console.ledger(stock) == [1, 3, 4]  # each posted exactly once


async def test_a_posting_whose_answer_was_lost_is_resent_and_posted_once(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    keys: list[str] = []

    async def lose_the_answer(route: Route) -> None:
        # The server gets the posting and answers; the browser never sees the answer.
        keys.append(route.request.headers["idempotency-key"])
        await route.fetch()
        await route.abort("connectionreset")

    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await post_through(page, lose_the_answer, stock, 5)
        assert "The server did not answer." in (await page.text_content("#post-ok") or "")
        assert await console.ledger(stock) == [1, 5]  # it did reach the server

        await page.unroute(MOVEMENTS)
        await page.click("#outbox-send")
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)

    assert len(keys) == 1
    assert await console.ledger(stock) == [1, 5]  # the resend was answered from the first


async def test_a_posting_refused_by_a_failing_gateway_waits_and_is_posted_once(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)

    async def bad_gateway(route: Route) -> None:
        # A proxy in front of the API fails; the posting never reached the server.
        await route.fulfill(status=502, content_type="text/html", body="<h1>Bad Gateway</h1>")

    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await post_through(page, bad_gateway, stock, 6)
        assert "Not posted yet: the server answered 502." in (
            await page.text_content("#post-ok") or ""
        )
        assert await page.text_content("#post-error") == ""
        # Send now while the gateway still fails: it stays, nothing is lost.
        await page.click("#outbox-send")
        await wait_text(page, "#outbox-note", "Still waiting: the server answered 502.")
        assert await page.locator(PENDING).count() == 1
        assert await page.is_visible("#work-view")  # a failing gateway logs no one out
        assert "it will be sent" in (await page.text_content("#post-ok") or "")  # still true

        await page.unroute(MOVEMENTS)
        await page.click("#outbox-send")
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)
        await wait_text(page, "#post-ok", "Sent: Receive 6")

    assert await console.ledger(stock) == [1, 6]


async def test_a_posting_kept_over_a_day_is_held_not_sent(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        await context.clock.install()
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await pick(page, "post-product", stock.product)  # searching needs the server
        await context.set_offline(True)
        await post(page, stock, 2)
        await page.click("#post-submit")
        await page.wait_for_selector(PENDING, timeout=WAIT_MS)

        # A day later the server may have forgotten its key: sending it could post twice.
        await context.clock.fast_forward(DAY_MS)
        await context.set_offline(False)
        await page.click("#outbox-send")
        await wait_text(page, f"{PENDING} span", "over a day old")
        assert await page.locator(PENDING).count() == 1
        assert await console.ledger(stock) == [1]

        await page.click(f"{PENDING} button")  # the user checked the ledger: discard it
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)

    assert await console.ledger(stock) == [1]


async def test_a_posting_refused_because_the_session_ended_is_sent_after_logging_in(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await pick(page, "post-product", stock.product)  # searching needs the session
        # The session ends elsewhere (logged out on another device, or revoked).
        stored = await page.evaluate("() => sessionStorage.getItem('stockroom.console.session')")
        ended = await console.http.post(
            "/api/v1/auth/logout", json={"refresh_token": json.loads(stored)["refresh_token"]}
        )
        assert ended.status_code == 204

        await post(page, stock, 4)
        await page.click("#post-submit")
        await page.wait_for_selector("#login-view:not([hidden])", timeout=WAIT_MS)
        await until_stored(page, 1)
        assert await console.ledger(stock) == [1]

        await page.fill("#login-username", clerk.email)
        await page.fill("#login-password", DEFAULT_PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_selector("#work-view:not([hidden])", timeout=WAIT_MS)
        await until_stored(page, 0)

    assert await console.ledger(stock) == [1, 4]  # kept for its user, sent once


async def test_the_offline_notice_says_sent_once_the_outbox_sent_the_posting(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await pick(page, "post-product", stock.product)  # searching needs the server
        await context.set_offline(True)
        await post(page, stock, 3)
        await page.click("#post-submit")
        await page.wait_for_selector(PENDING, timeout=WAIT_MS)
        label = (await page.text_content(f"{PENDING} span") or "").removesuffix(" (pending)")
        assert "it will be sent" in (await page.text_content("#post-ok") or "")

        await context.set_offline(False)
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)
        await wait_text(page, "#post-ok", "Sent")
        assert await page.text_content("#post-ok") == f"Sent: {label}. Posted +3; on hand now 4."
        assert await stored(page) == 0

    assert await console.ledger(stock) == [1, 3]


async def test_a_queued_posting_refused_when_sent_is_no_longer_said_to_wait(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        page = await context.new_page()
        await log_in(page, console.base, clerk)
        await pick(page, "post-product", stock.product)  # searching needs the server
        await context.set_offline(True)
        await post(page, stock, 5, kind="issue")  # more than there is
        await page.click("#post-submit")
        await page.wait_for_selector(PENDING, timeout=WAIT_MS)

        await context.set_offline(False)
        await page.wait_for_selector("#outbox", state="hidden", timeout=WAIT_MS)
        await wait_text(page, "#outbox-error", "Not posted: Issue 5")
        assert (await page.text_content("#outbox-error") or "").endswith(
            "Not enough stock available. Available: 1."
        )
        assert await page.text_content("#post-ok") == ""  # neither "Sent" nor "will be sent"
        assert await stored(page) == 0

    assert await console.ledger(stock) == [1]


# Holds the completion of the outbox's next read (the one `add` makes after storing a
# posting) until `window.releaseRead()`: the outbox can send or refuse the posting meanwhile,
# as the "online" event or another tab may do while it is being stored.
HOLD_NEXT_READ = """(() => {
    const transaction = IDBDatabase.prototype.transaction;
    const complete = Object.getOwnPropertyDescriptor(IDBTransaction.prototype, "oncomplete");
    IDBDatabase.prototype.transaction = function (names, mode) {
        const made = transaction.call(this, names, mode);
        if (mode !== "readonly" || !window.holdNextRead) return made;
        const gate = new Promise((release) => { window.releaseRead = release; });
        window.holdNextRead = false;
        window.readHeld = true;
        Object.defineProperty(made, "oncomplete", {
            set(handler) { complete.set.call(made, (event) => gate.then(() => handler(event))); },
        });
        return made;
    };
})()"""


async def sent_while_stored(
    console: ConsoleSite, stock: Stock, quantity: int, *, kind: str, reachable: bool
) -> str:
    """Post while the API does not answer; while the outbox is storing the posting, the
    connection returns (`reachable`, or not) and the outbox sends it. The form's notice once
    the submission is over."""
    clerk = await console.user(Role.CLERK)
    async with console.context() as context:
        await context.add_init_script(HOLD_NEXT_READ)
        page = await context.new_page()
        await log_in(page, console.base, clerk)

        async def unanswered(route: Route) -> None:
            await route.abort()

        await page.route(MOVEMENTS, unanswered)
        await post(page, stock, quantity, kind=kind)
        await page.evaluate("() => { window.holdNextRead = true; }")
        await page.click("#post-submit")
        await page.wait_for_function("() => window.readHeld === true", timeout=WAIT_MS)
        if reachable:
            await page.unroute(MOVEMENTS)
        await page.evaluate("() => window.dispatchEvent(new Event('online'))")
        await until_stored(page, 1 if not reachable else 0)
        # Sent or refused: gone from the outbox (or, unreachable, still in it) before the
        # form's submission has finished storing it.
        assert await page.get_attribute("#post-submit", "aria-busy") == "true"
        await page.evaluate("() => window.releaseRead()")
        await page.wait_for_selector("#post-submit:not([aria-busy])", timeout=WAIT_MS)
        return await page.text_content("#post-ok") or ""


async def test_a_posting_sent_while_it_was_being_stored_says_sent(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    notice = await sent_while_stored(console, stock, 4, kind="receipt", reachable=True)
    assert notice.startswith("Sent: Receive 4")
    assert notice.endswith("Posted +4; on hand now 5.")
    assert await console.ledger(stock) == [1, 4]


async def test_a_posting_refused_while_it_was_being_stored_is_not_said_to_wait(
    console: ConsoleSite,
) -> None:
    stock = await console.stock(on_hand=1)
    notice = await sent_while_stored(console, stock, 5, kind="issue", reachable=True)
    assert notice == ""  # neither "Sent" nor "will be sent"
    assert await console.ledger(stock) == [1]


async def test_a_posting_still_unsent_once_stored_is_said_to_wait(console: ConsoleSite) -> None:
    stock = await console.stock(on_hand=1)
    notice = await sent_while_stored(console, stock, 2, kind="receipt", reachable=False)
    assert notice == (
        "The server did not answer. Saved on this device; it will be sent when the connection"
        " returns."
    )
    assert await console.ledger(stock) == [1]
