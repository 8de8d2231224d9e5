"""Rotating SECRET_KEY as the README says keeps the cursors clients hold (feed positions and
list page cursors) valid while the old key is in SECRET_KEY_PREVIOUS."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.core.exceptions import MalformedRequest
from src.models.user import Role
from src.services.feed import POSITION_SCOPE
from tests.support.apps import serving
from tests.support.factories import create_user, login_headers
from tests.support.feed import append_committed, head, settle

EVENTS = "/api/v1/events"
USERS = "/api/v1/users"
OLD_KEY = "the-old-key-of-this-server-0123456789abcdef"
NEW_KEY = "the-new-key-of-this-server-0123456789abcdef"
Query = tuple[str, dict[str, Any]]


async def _answers(
    url: str, tmp_path: Path, engine: AsyncEngine, queries: list[Query], **keys: Any
) -> list[tuple[int, Any]]:
    """(status, items or problem type) of each query, asked of a server with `keys`."""
    async with serving(url, tmp_path, **keys) as client:
        async with engine.begin() as connection:
            admin = await create_user(connection, role=Role.ADMIN)
        headers = await login_headers(client, admin)
        answers: list[tuple[int, Any]] = []
        for path, params in queries:
            response = await client.get(path, params=params, headers=headers)
            body = response.json()
            answers.append(
                (response.status_code, body["items"] if response.is_success else body["type"])
            )
        return answers


async def test_cursors_signed_with_the_previous_key_stay_valid_after_a_rotation(
    feed_url: str, feed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with serving(feed_url, tmp_path, secret_key=OLD_KEY) as client:
        async with feed_engine.begin() as connection:
            admin = await create_user(connection, role=Role.ADMIN)
            for _ in range(2):
                await create_user(connection)
        headers = await login_headers(client, admin)
        position = await head(client, headers)
        first = (await client.get(USERS, params={"limit": 1}, headers=headers)).json()
        page_cursor = first["next_cursor"]
        params = {"limit": 1, "cursor": page_cursor}
        second = await client.get(USERS, params=params, headers=headers)
        assert second.status_code == 200
    tag = uuid.uuid4().hex
    await append_committed(feed_engine, (EventType.PRODUCT_UPDATED, {"name": tag}))
    await settle(feed_engine)
    forged = CursorCodec("a-key-this-server-never-had-0123456789ab").encode(POSITION_SCOPE, [1, 1])
    queries: list[Query] = [
        (EVENTS, {"after": position}),
        (USERS, {"limit": 1, "cursor": page_cursor}),
        (EVENTS, {"after": forged}),
    ]

    rotated = await _answers(
        feed_url, tmp_path, feed_engine, queries, secret_key=NEW_KEY, secret_key_previous=[OLD_KEY]
    )
    (feed_status, events), (page_status, users), forged_answer = rotated
    assert feed_status == 200
    assert [(e["type"], e["data"]) for e in events] == [("product.updated", {"name": tag})]
    assert page_status == 200
    assert [u["id"] for u in users] == [u["id"] for u in second.json()["items"]]
    assert forged_answer == (400, forged_answer[1])
    assert forged_answer[1].endswith("/problems/malformed-request")

    # The old key dropped: what it signed is no longer accepted.
    dropped = await _answers(feed_url, tmp_path, feed_engine, queries, secret_key=NEW_KEY)
    assert [status for status, _ in dropped] == [400, 400, 400]
    assert all(kind.endswith("/problems/malformed-request") for _, kind in dropped)

    # A cursor signed with the new key is accepted whether or not the old key is kept.
    async with serving(feed_url, tmp_path, secret_key=NEW_KEY) as client:
        async with feed_engine.begin() as connection:
            admin = await create_user(connection, role=Role.ADMIN)
        fresh = await head(client, await login_headers(client, admin))
    kept = await _answers(
        feed_url,
        tmp_path,
        feed_engine,
        [(EVENTS, {"after": fresh})],
        secret_key=NEW_KEY,
        secret_key_previous=[OLD_KEY],
    )
    assert kept == [(200, [])]


async def test_an_empty_page_upgrades_a_previous_key_cursor_to_the_current_key(
    feed_url: str, feed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with serving(feed_url, tmp_path, secret_key=OLD_KEY) as client:
        async with feed_engine.begin() as connection:
            admin = await create_user(connection, role=Role.ADMIN)
        headers = await login_headers(client, admin)
        await settle(feed_engine)
        position = await head(client, headers)
    named = CursorCodec(OLD_KEY).decode(POSITION_SCOPE, position)

    async with serving(
        feed_url, tmp_path, secret_key=NEW_KEY, secret_key_previous=[OLD_KEY]
    ) as client:
        headers = await login_headers(client, admin)
        answer = await client.get(EVENTS, params={"after": position}, headers=headers)
        assert answer.status_code == 200
        body = answer.json()
    assert body["items"] == []
    upgraded = body["next_cursor"]
    assert upgraded != position
    # Signed with the new key alone, naming the same place.
    assert CursorCodec(NEW_KEY).decode(POSITION_SCOPE, upgraded) == named
    with pytest.raises(MalformedRequest):
        CursorCodec(OLD_KEY).decode(POSITION_SCOPE, upgraded)

    # The previous key dropped: the upgraded cursor still resumes; the old one is refused.
    tag = uuid.uuid4().hex
    await append_committed(feed_engine, (EventType.PRODUCT_UPDATED, {"name": tag}))
    await settle(feed_engine)
    queries: list[Query] = [(EVENTS, {"after": upgraded}), (EVENTS, {"after": position})]
    dropped = await _answers(feed_url, tmp_path, feed_engine, queries, secret_key=NEW_KEY)
    (kept_status, events), (old_status, old_kind) = dropped
    assert kept_status == 200
    assert [(e["type"], e["data"]) for e in events] == [("product.updated", {"name": tag})]
    assert old_status == 400
    assert old_kind.endswith("/problems/malformed-request")
