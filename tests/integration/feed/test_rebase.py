"""A logical restore leaves the event log with another server's (higher) transaction ids:
the app refuses to serve it, and `stockroom feed rebase` renumbers it, order and every
consumer's place kept. Simulated on a database of its own by raising the stored xids as a
restore into a younger server leaves them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
)

from src.core.exceptions import StalledFeed
from src.main import create_app
from src.services.webhook.dispatch import dispatch
from tests.support.apps import serving
from tests.support.feed import append, append_committed, settle
from tests.support.rebase import (
    CODEC,
    feed_of,
    from_the_old_server,
    invoke,
    named,
    new_admin,
    restore_from_a_busier_server,
    stored_xids,
)
from tests.support.servers import free_port
from tests.support.settings import make_settings

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"
# Who wrote a2: renumbering keeps every column of an event but its xid.
A2_ACTOR = {"type": "client", "id": "01900000-0000-7000-8000-0000000000a2", "name": "ERP"}


# Every test here runs `stockroom` commands on the test's own database (feed/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_env")


async def _serve() -> tuple[int | None, str]:
    """`stockroom serve` in a process of its own (it handles signals): exit code, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        "serve",
        "--no-migrate",
        "--port",
        str(free_port()),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:  # pragma: no cover - it served
        process.kill()
        await process.wait()
        raise AssertionError("stockroom serve served a log it cannot show") from None
    return process.returncode, stderr.decode()


async def _interleaved(engine: AsyncEngine, tag: str) -> None:
    """a1 and a3 in one transaction that began first, a2 in one that committed between:
    the log's order (a1, a3, a2) differs from the order of `seq` (a1, a2, a3)."""
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await append(first, *named(tag, "a1"))
        await second.begin()
        await append(second, *named(tag, "a2"), A2_ACTOR)
        await second.commit()
        await append(first, *named(tag, "a3"))
        await first.commit()


@pytest.mark.server
@pytest.mark.slow
async def test_a_restored_log_is_refused_then_rebased_with_order_and_positions_kept(
    own_database_url: str,
    own_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    tag = "rebase-"
    await _interleaved(own_engine, tag)
    await append_committed(own_engine, named(tag, "a4"))
    await settle(own_engine)
    async with serving(own_database_url, tmp_path, webhook_allow_private_targets=True) as client:
        admin = await new_admin(own_engine, client)
        created = await client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=admin
        )
        assert created.status_code == 201, created.text
        webhook = created.json()["id"]
        for n in ("b1", "b2"):
            await append_committed(own_engine, named(tag, n))
        await settle(own_engine)
        before = await feed_of(client, admin)
    names = [name for _, name in before]
    assert names == [f"{tag}{n}" for n in ("a1", "a3", "a2", "a4", "b1", "b2")]
    held_by_a_client = from_the_old_server(before[3][0])  # after a4

    await restore_from_a_busier_server(own_engine)

    # The app refuses to start, naming the fix; so does `stockroom serve`, before serving.
    settings = make_settings(own_database_url, tmp_path)
    with pytest.raises(StalledFeed, match="run `stockroom feed rebase` before serving"):
        async with LifespanManager(create_app(settings)):
            pass  # pragma: no cover - it must not start
    code, stderr = await _serve()
    assert code == 1
    assert stderr.startswith("error: the event log holds events with transaction ids above")
    assert stderr.strip().count("\n") == 0
    assert "`stockroom feed rebase`" in stderr

    rebased = await invoke("feed", "rebase")
    assert rebased.exit_code == 0, rebased.output
    # a1, a3 | a2, a4, b1, b2: two transaction ids keep the order.
    assert rebased.stdout.strip() == (
        "rebased 6 event(s) onto 2 transaction id(s); moved 1 webhook endpoint position(s)"
    )
    async with own_engine.connect() as connection:
        ahead = await connection.scalar(
            text("SELECT count(*) FROM events WHERE xid >= pg_current_xact_id()")
        )
    assert ahead == 0

    async with serving(own_database_url, tmp_path, webhook_allow_private_targets=True) as client:
        admin = await new_admin(own_engine, client)
        await settle(own_engine)
        after = await feed_of(client, admin)
        assert [name for _, name in after] == names
        page = await client.get("/api/v1/events", params={"limit": 100}, headers=admin)
        actors = {item["data"]["name"]: item["actor"] for item in page.json()["items"]}
        assert actors[f"{tag}a2"] == A2_ACTOR
        assert actors[f"{tag}a1"] is None
        # A client's stored position from the old server resumes right after the same event.
        resumed = await feed_of(client, admin, after=held_by_a_client)
        assert [name for _, name in resumed] == [f"{tag}b1", f"{tag}b2"]
        # The endpoint's position still points after a4: it gets b1 and b2, nothing else.
        await dispatch(async_sessionmaker(own_engine, expire_on_commit=False), CODEC)
        deliveries = await client.get(f"/api/v1/webhooks/{webhook}/deliveries", headers=admin)
        assert deliveries.status_code == 200
        sent = sorted(d["event_id"] for d in deliveries.json()["items"])
        assert sent == sorted(event_id for event_id, _ in after[4:])

    # Run again: nothing is from the future, nothing changes.
    xids = await stored_xids(own_engine)
    again = await invoke("feed", "rebase")
    assert again.exit_code == 0
    assert again.stdout.startswith("nothing to rebase")
    assert await stored_xids(own_engine) == xids


async def test_rebase_with_nothing_from_the_future_changes_nothing(
    own_database_url: str, own_engine: AsyncEngine, tmp_path: Path
) -> None:
    await append_committed(own_engine, named("calm-", "1"), named("calm-", "2"))
    xids = await stored_xids(own_engine)
    result = await invoke("feed", "rebase")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "nothing to rebase: every event is below this server's transaction ids"
    )
    assert await stored_xids(own_engine) == xids
    # And the app starts as usual.
    async with serving(own_database_url, tmp_path) as client:
        assert (await client.get("/api/health")).status_code == 200


async def test_rebase_against_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = await invoke("feed", "rebase")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot connect to the database at 127.0.0.1:1")
    assert result.stderr.strip().count("\n") == 0
