"""A logical restore simulated for the `stockroom feed rebase` tests: an event log whose
stored transaction ids are those of another, busier server; the command run in a thread; the
feed as a client sees it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from src.cli import app as cli
from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.models.user import Role
from src.services.feed import POSITION_SCOPE
from tests.support.factories import committed_headers
from tests.support.settings import TEST_SECRET_KEY

EVENTS = "/api/v1/events"
# As far ahead as a restore from an older, busier server leaves them (another epoch).
OFFSET = 5 * 2**32
CODEC = CursorCodec(TEST_SECRET_KEY)
runner = CliRunner()


async def invoke(*args: str) -> Result:
    # The commands run their own event loop: in a thread, beside the test's.
    return await asyncio.to_thread(runner.invoke, cli, list(args))


async def new_admin(engine: AsyncEngine, client: httpx.AsyncClient) -> dict[str, str]:
    return await committed_headers(engine, client, Role.ADMIN)


def named(tag: str, n: str) -> tuple[str, dict[str, object]]:
    return (EventType.PRODUCT_UPDATED, {"name": f"{tag}{n}"})


async def feed_of(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await client.get(EVENTS, params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [(item["id"], item["data"]["name"]) for item in response.json()["items"]]


async def stored_xids(engine: AsyncEngine) -> list[tuple[int, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT seq, xid::text::bigint FROM events"))
        return sorted((int(seq), int(xid)) for seq, xid in rows)


async def restore_from_a_busier_server(engine: AsyncEngine) -> None:
    """What a dump taken on the old server leaves in the new one: every stored xid ahead."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE events SET xid ="
                " CAST(CAST(CAST(CAST(xid AS text) AS bigint) + :offset AS text) AS xid8)"
            ),
            {"offset": OFFSET},
        )
        await connection.execute(
            text(
                "UPDATE webhook_endpoints SET position_xid = CAST(CAST("
                " CAST(CAST(position_xid AS text) AS bigint) + :offset AS text) AS xid8)"
            ),
            {"offset": OFFSET},
        )


def from_the_old_server(event_id: str) -> str:
    """The id a client of the old server holds for that event."""
    xid, seq = CODEC.decode(POSITION_SCOPE, event_id)
    return CODEC.encode(POSITION_SCOPE, [xid + OFFSET, seq])
