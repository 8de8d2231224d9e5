"""`stockroom feed rebase` beyond the common case: an old id whose event was purged since,
a server that has used fewer transaction ids than the log needs, two rebases at once, an
unmigrated database, a database error. Simulated like tests/integration/feed/test_rebase.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from src.core.transaction_ids import next_transaction_id, take_transaction_ids_until
from src.main import create_app
from src.services.feed import purge_expired_events
from src.services.feed_rebase import FeedRebase, rebase_feed
from tests.support.databases import TestServer
from tests.support.feed import append_committed, eventually, settle
from tests.support.rebase import (
    feed_of,
    from_the_old_server,
    invoke,
    named,
    new_admin,
    restore_from_a_busier_server,
    stored_xids,
)
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import FEED_STREAM

EXPIRED = "/problems/cursor-expired"


# Every test here runs `stockroom` commands on the test's own database (feed/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_env")


async def _restored_log(engine: AsyncEngine, tag: str) -> None:
    """Three events written on "the old server", then restored into this one."""
    for n in ("1", "2", "3"):
        await append_committed(engine, named(tag, n))
    await settle(engine)


async def test_an_old_id_whose_event_was_purged_after_the_rebase_is_410(
    own_database_url: str, own_engine: AsyncEngine, tmp_path: Path
) -> None:
    tag = "purged-"
    await _restored_log(own_engine, tag)
    app = create_app(make_settings(own_database_url, tmp_path))
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        admin = await new_admin(own_engine, client)
        before = await feed_of(client, admin)
    old_ids = [from_the_old_server(event_id) for event_id, _ in before]
    await restore_from_a_busier_server(own_engine)
    assert (await invoke("feed", "rebase")).exit_code == 0
    async with own_engine.begin() as connection:  # the first event is past retention
        await connection.execute(
            text(
                "UPDATE events SET occurred_at = now() - interval '40 days'"
                " WHERE data->>'name' = :n"
            ),
            {"n": f"{tag}1"},
        )
    await settle(own_engine)  # the renumbered events visible, as the purge reads them
    assert await purge_expired_events(async_sessionmaker(own_engine), 30) == 1

    app = create_app(make_settings(own_database_url, tmp_path))
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        admin = await new_admin(own_engine, client)
        # The old id of the purged event: expired, not a feed that never moves again.
        gone = await client.get("/api/v1/events", params={"after": old_ids[0]}, headers=admin)
        assert gone.status_code == 410
        assert gone.json()["type"] == EXPIRED
        for streamed in (
            await client.get(FEED_STREAM, params={"after": old_ids[0]}, headers=admin),
            await client.get(FEED_STREAM, headers={**admin, "Last-Event-ID": old_ids[0]}),
        ):
            assert streamed.status_code == 410
            assert streamed.json()["type"] == EXPIRED
        # The old id of an event still there resumes after it.
        assert [name for _, name in await feed_of(client, admin, after=old_ids[1])] == [f"{tag}3"]
        # Caught up: an empty page, not a 410, and its cursor goes on from there.
        last = await client.get("/api/v1/events", params={"after": old_ids[2]}, headers=admin)
        assert last.status_code == 200
        assert last.json()["items"] == []
        await append_committed(own_engine, named(tag, "4"))
        await settle(own_engine)
        after = last.json()["next_cursor"]
        assert [name for _, name in await feed_of(client, admin, after=after)] == [f"{tag}4"]


async def test_a_rebase_makes_room_when_this_server_used_too_few_ids(
    own_database_url: str, own_engine: AsyncEngine, tmp_path: Path
) -> None:
    tag = "room-"
    await _restored_log(own_engine, tag)
    await restore_from_a_busier_server(own_engine)
    # As if the log needed more ids than this server has ever used.
    room = await next_transaction_id(own_engine) + 50
    done = await rebase_feed(own_engine, room=room)
    assert done == FeedRebase(events=3, endpoints=0, transaction_ids=1)
    xids = [xid for _, xid in await stored_xids(own_engine)]
    assert min(xids) >= room
    async with own_engine.connect() as connection:
        analyzed = await connection.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'events'")
        )
    assert analyzed is not None  # statistics refreshed after the renumbering
    async with running(create_app(make_settings(own_database_url, tmp_path))) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            admin = await new_admin(own_engine, client)
            await settle(own_engine)
            names = [name for _, name in await feed_of(client, admin)]
    assert names == [f"{tag}{n}" for n in ("1", "2", "3")]


async def test_taking_ids_stops_at_the_target(own_engine: AsyncEngine) -> None:
    start = await next_transaction_id(own_engine)
    assert await take_transaction_ids_until(own_engine, start + 50) >= 1
    reached = await next_transaction_id(own_engine)
    assert reached >= start + 50
    # A target already reached takes nothing; so does one in the past.
    assert await take_transaction_ids_until(own_engine, reached) == 0
    assert await take_transaction_ids_until(own_engine, 3) == 0
    assert await next_transaction_id(own_engine) < reached + 10


async def test_two_rebases_at_once_renumber_the_log_once(own_engine: AsyncEngine) -> None:
    await _restored_log(own_engine, "twice-")
    await restore_from_a_busier_server(own_engine)
    async with own_engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        both = asyncio.gather(rebase_feed(own_engine), rebase_feed(own_engine))

        async def both_waiting() -> bool:
            async with own_engine.connect() as connection:
                return 2 == (
                    await connection.scalar(
                        text(
                            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                            " WHERE c.relname = 'events' AND NOT l.granted AND l.database ="
                            " (SELECT oid FROM pg_database WHERE datname = current_database())"
                        )
                    )
                )

        assert await eventually(both_waiting)
        await holder.rollback()
        results = await both
    assert sorted(results, key=lambda r: r is None) == [
        FeedRebase(events=3, endpoints=0, transaction_ids=1),
        None,
    ]
    async with own_engine.connect() as connection:
        ahead = await connection.scalar(
            text("SELECT count(*) FROM events WHERE xid >= pg_current_xact_id()")
        )
    assert ahead == 0


@pytest.fixture
def bare_url(pg_server: TestServer) -> Iterator[str]:
    """A database no migration has run on."""
    with pg_server.fresh_database("stockroom_bare") as url:
        yield url


async def test_rebase_on_an_unmigrated_database_finds_nothing(
    monkeypatch: pytest.MonkeyPatch, bare_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", bare_url)
    result = await invoke("feed", "rebase")
    assert result.exit_code == 0
    assert result.stdout.startswith("nothing to rebase")


async def test_a_database_error_during_a_rebase_is_one_line_and_changes_nothing(
    own_database_url: str, own_engine: AsyncEngine
) -> None:
    await _restored_log(own_engine, "locked-")
    await restore_from_a_busier_server(own_engine)
    xids = await stored_xids(own_engine)
    async with own_engine.connect() as connection:
        # The database's own name: its URL may carry a socket directory as a query string.
        name = await connection.scalar(text("SELECT current_database()"))
        await connection.execute(text(f'ALTER DATABASE "{name}" SET lock_timeout = 300'))
        await connection.commit()
    async with own_engine.connect() as holder:  # another process holds the log
        await holder.begin()
        await holder.execute(text("LOCK TABLE webhook_endpoints IN EXCLUSIVE MODE"))
        result = await invoke("feed", "rebase")
        await holder.rollback()
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: feed rebase failed: LockNotAvailableError: ")
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.output
    assert await stored_xids(own_engine) == xids
    # Once the lock is gone it goes through.
    again = await invoke("feed", "rebase")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("rebased 3 event(s)")
