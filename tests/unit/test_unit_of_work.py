"""The unit of work: events and the wake-up NOTIFY belong to the commit, the stored response
to the claimed key."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from pytest_mock import MockerFixture

from src.services.idempotency import Claim, Replay, fingerprint
from src.services.unit_of_work import UnitOfWork


class Body(BaseModel):
    quantity: int


def _work(mocker: MockerFixture) -> tuple[UnitOfWork, Any, Any, Any]:
    session = mocker.AsyncMock()
    work = UnitOfWork(session)
    events = mocker.patch.object(work, "_events", autospec=True)
    guard = mocker.patch.object(work, "_guard", autospec=True)
    return work, session, events, guard


async def test_commit_notifies_once_when_something_was_emitted(mocker: MockerFixture) -> None:
    work, session, events, _ = _work(mocker)
    await work.emit("movement.created", {"id": "1"})
    await work.emit("level.below_reorder", {"on_hand": 1})
    await work.commit()
    assert events.append.await_count == 2
    events.notify.assert_awaited_once()
    session.commit.assert_awaited_once()

    await work.commit()  # a later commit with nothing new sends no NOTIFY
    events.notify.assert_awaited_once()


async def test_commit_without_events_sends_no_notify(mocker: MockerFixture) -> None:
    work, session, events, _ = _work(mocker)
    await work.commit()
    events.notify.assert_not_awaited()
    session.commit.assert_awaited_once()


async def test_rollback_forgets_the_events_and_the_claim(mocker: MockerFixture) -> None:
    work, session, events, guard = _work(mocker)
    guard.claim.return_value = None
    await work.claim(uuid.uuid4(), "k", "movement", Body(quantity=1))
    await work.emit("movement.created", {"id": "1"})
    await work.rollback()
    session.rollback.assert_awaited_once()
    await work.commit()
    events.notify.assert_not_awaited()
    with pytest.raises(RuntimeError, match="claimed"):
        await work.remember(201, b"{}", None)


async def test_a_replay_claims_nothing_to_remember(mocker: MockerFixture) -> None:
    work, _, _, guard = _work(mocker)
    stored = Replay(201, b'{"id":"1"}', "/there")
    guard.claim.return_value = stored
    assert await work.claim(uuid.uuid4(), "k", "movement", Body(quantity=1)) == stored
    with pytest.raises(RuntimeError):
        await work.remember(201, b"{}", None)


async def test_remember_stores_the_response_under_the_claimed_fingerprint(
    mocker: MockerFixture,
) -> None:
    work, _, _, guard = _work(mocker)
    guard.claim.return_value = None
    user = uuid.uuid4()
    body = Body(quantity=3)
    assert await work.claim(user, "k", "count", body) is None
    await work.remember(201, b"{}", "/counts")
    claim = Claim(user, "k", fingerprint("count", body))
    guard.claim.assert_awaited_once_with(claim)
    guard.remember.assert_awaited_once_with(claim, status=201, body=b"{}", location="/counts")
    with pytest.raises(RuntimeError):  # once per claim
        await work.remember(201, b"{}", "/counts")


def test_the_fingerprint_names_the_operation_and_the_body() -> None:
    body = Body(quantity=3)
    assert fingerprint("count", body) != fingerprint("movement", body)
    assert fingerprint("count", body) != fingerprint("count", Body(quantity=4))
    assert fingerprint("count", body) == fingerprint("count", Body(quantity=3))
