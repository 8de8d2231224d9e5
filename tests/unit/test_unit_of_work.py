"""The unit of work: events, audit entries and the wake-up NOTIFY belong to the commit, the
stored response to the claimed key."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from pytest_mock import MockerFixture

from src.core.readonly import WriteInReadOnlyRequest, is_read_only
from src.models.principal import Actor
from src.repositories.audit import AuditRow, AuditRows
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


MOVEMENT_ID = "01a24a00-0000-7000-8000-000000000001"
# Who the request acts as, on each of its events.
ACTOR = {"type": "client", "id": MOVEMENT_ID, "name": "ERP"}


async def test_commit_writes_the_events_in_order_with_one_notify(mocker: MockerFixture) -> None:
    work, session, events, _ = _work(mocker)
    work.actor = Actor("client", uuid.UUID(MOVEMENT_ID), "ERP")
    await work.emit("movement.created", {"id": MOVEMENT_ID})
    await work.emit("level.below_reorder", {"on_hand": 1})
    events.write.assert_not_awaited()  # buffered until the commit
    await work.commit()
    events.write.assert_awaited_once_with(
        [
            {
                "type": "movement.created",
                "data": {"id": MOVEMENT_ID},
                "movement_id": uuid.UUID(MOVEMENT_ID),
                "actor": ACTOR,
            },
            {
                "type": "level.below_reorder",
                "data": {"on_hand": 1},
                "movement_id": None,
                "actor": ACTOR,
            },
        ],
        record=None,
        notify=True,
        audits=None,
    )
    session.commit.assert_awaited_once()

    await work.commit()  # a later commit with nothing new writes nothing
    events.write.assert_awaited_once()


async def test_commit_without_events_writes_nothing(mocker: MockerFixture) -> None:
    work, session, events, _ = _work(mocker)
    await work.commit()
    events.write.assert_not_awaited()
    session.commit.assert_awaited_once()


async def test_work_no_one_asked_for_emits_events_without_an_actor(
    mocker: MockerFixture,
) -> None:
    work, _, events, _ = _work(mocker)  # a background job's: no caller, no actor
    await work.emit("reservation.expired", {"id": MOVEMENT_ID})
    await work.commit()
    (written,), _ = events.write.await_args
    assert [row["actor"] for row in written] == [None]


async def test_an_unknown_event_type_fails_where_it_is_emitted(mocker: MockerFixture) -> None:
    work, _, _, _ = _work(mocker)
    with pytest.raises(ValueError, match="unknown event type"):
        await work.emit("movement.teleported", {})


async def test_a_read_only_unit_of_work_refuses_to_write(mocker: MockerFixture) -> None:
    session = mocker.MagicMock()
    session.sync_session.info = {}
    work = UnitOfWork(session, read_only=True)
    assert is_read_only(session)
    with pytest.raises(WriteInReadOnlyRequest):
        await work.emit("movement.created", {"id": MOVEMENT_ID})
    with pytest.raises(WriteInReadOnlyRequest):
        await work.claim(uuid.uuid4(), "k", "movement", Body(quantity=1))


async def test_rollback_forgets_the_events_and_the_claim(mocker: MockerFixture) -> None:
    work, session, events, guard = _work(mocker)
    guard.claim.return_value = None
    await work.claim(uuid.uuid4(), "k", "movement", Body(quantity=1))
    await work.emit("movement.created", {"id": MOVEMENT_ID})
    await work.rollback()
    session.rollback.assert_awaited_once()
    await work.commit()
    events.write.assert_not_awaited()
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
    work, _, events, guard = _work(mocker)
    guard.claim.return_value = None
    guard.record.return_value = {"stored": True}
    user = uuid.uuid4()
    body = Body(quantity=3)
    assert await work.claim(user, "k", "count", body) is None
    await work.remember(201, b"{}", "/counts")
    claim = Claim(user, "k", fingerprint("count", body))
    guard.claim.assert_awaited_once_with(claim)
    guard.record.assert_called_once_with(claim, status=201, body=b"{}", location="/counts")
    with pytest.raises(RuntimeError):  # once per claim
        await work.remember(201, b"{}", "/counts")
    await work.commit()  # stored with the work, no NOTIFY without events
    events.write.assert_awaited_once_with([], record={"stored": True}, notify=False, audits=None)


def test_the_fingerprint_names_the_operation_and_the_body() -> None:
    body = Body(quantity=3)
    assert fingerprint("count", body) != fingerprint("movement", body)
    assert fingerprint("count", body) != fingerprint("count", Body(quantity=4))
    assert fingerprint("count", body) == fingerprint("count", Body(quantity=3))


async def test_audit_entries_are_written_at_the_commit_with_secrets_redacted(
    mocker: MockerFixture,
) -> None:
    work, _, events, _ = _work(mocker)
    work.request_id, work.client_ip = "req-1", "203.0.113.7"
    actor = Actor("user", uuid.UUID(int=1), "Ada")
    work.actor = actor
    work.audit("user.password_changed", "user", uuid.UUID(int=2), {"password": ("a", "b")})
    work.audit(
        "webhook.updated",
        "webhook",
        "w1",
        {"secret_hash": ("x", "y"), "refresh_token": (None, "t"), "url": ("u1", "u2")},
    )
    events.write.assert_not_awaited()  # buffered until the commit
    await work.commit()
    rows = [
        AuditRow(
            "user.password_changed",
            "user",
            str(uuid.UUID(int=2)),
            {"password": ("[redacted]", "[redacted]")},
            actor.as_json(),
        ),
        AuditRow(
            "webhook.updated",
            "webhook",
            "w1",
            {
                "secret_hash": ("[redacted]", "[redacted]"),
                "refresh_token": ("[redacted]", "[redacted]"),
                "url": ("u1", "u2"),
            },
            actor.as_json(),
        ),
    ]
    events.write.assert_awaited_once_with(
        [], record=None, notify=False, audits=AuditRows(rows, "req-1", "203.0.113.7")
    )


async def test_rollback_forgets_the_audit_entries(mocker: MockerFixture) -> None:
    work, _, events, _ = _work(mocker)
    work.audit("product.updated", "product", "p1", {"name": ("a", "b")})
    await work.rollback()
    await work.commit()
    events.write.assert_not_awaited()


def test_a_read_only_unit_of_work_refuses_to_audit(mocker: MockerFixture) -> None:
    session = mocker.MagicMock()
    session.sync_session.info = {}
    work = UnitOfWork(session, read_only=True)
    with pytest.raises(WriteInReadOnlyRequest):
        work.audit("product.updated", "product", "p1")
