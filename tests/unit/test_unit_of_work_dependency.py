"""The request's unit of work commits on success and rolls back on any exception; its
session is closed whatever happens."""

from __future__ import annotations

import pytest
from pytest_mock import MockerFixture
from starlette.requests import Request

from src.core.exceptions import Conflict, OAuthError
from src.dependencies import get_session, get_unit_of_work

POST = Request({"type": "http", "method": "POST", "headers": []})


def _database(mocker: MockerFixture):  # type: ignore[no-untyped-def]
    session = mocker.AsyncMock()
    factory = mocker.MagicMock()
    factory.return_value = session
    database = mocker.MagicMock(session_factory=factory)
    return database, session


async def test_commits_when_the_endpoint_returns(mocker: MockerFixture) -> None:
    database, session = _database(mocker)
    generator = get_unit_of_work(POST, database)
    work = await generator.__anext__()
    assert work.session is session
    assert await get_session(work) is session  # SessionDep is the unit of work's session
    with pytest.raises(StopAsyncIteration):
        await generator.__anext__()
    session.commit.assert_awaited_once()
    session.rollback.assert_not_awaited()
    session.close.assert_awaited_once()


async def test_a_failing_commit_propagates(mocker: MockerFixture) -> None:
    database, session = _database(mocker)
    session.commit.side_effect = ConnectionError("lost")
    generator = get_unit_of_work(POST, database)
    await generator.__anext__()
    with pytest.raises(ConnectionError):
        await generator.__anext__()
    session.close.assert_awaited_once()


async def test_an_error_that_keeps_its_work_commits_then_propagates(
    mocker: MockerFixture,
) -> None:
    database, session = _database(mocker)
    generator = get_unit_of_work(POST, database)
    await generator.__anext__()
    error = OAuthError("invalid_grant", "reused", keep_work=True)
    with pytest.raises(OAuthError) as raised:
        await generator.athrow(error)
    assert raised.value is error
    session.commit.assert_awaited_once()
    session.rollback.assert_not_awaited()


@pytest.mark.parametrize(
    "error",
    [
        ValueError("boom"),
        OAuthError("invalid_grant", "unknown"),
        Conflict("taken"),
        RuntimeError("bug"),
    ],
    ids=["endpoint", "oauth", "domain", "other"],
)
async def test_errors_that_keep_no_work_roll_back(mocker: MockerFixture, error: Exception) -> None:
    database, session = _database(mocker)
    generator = get_unit_of_work(POST, database)
    await generator.__anext__()
    with pytest.raises(type(error)) as raised:
        await generator.athrow(error)
    assert raised.value is error
    session.rollback.assert_awaited_once()
    session.commit.assert_not_awaited()
    session.close.assert_awaited_once()


async def test_a_failing_commit_of_kept_work_propagates(mocker: MockerFixture) -> None:
    database, session = _database(mocker)
    session.commit.side_effect = ConnectionError("lost")
    generator = get_unit_of_work(POST, database)
    await generator.__anext__()
    with pytest.raises(ConnectionError):
        await generator.athrow(OAuthError("invalid_grant", "reused", keep_work=True))


GET = Request({"type": "http", "method": "GET", "headers": []})


def _reader(mocker: MockerFixture):  # type: ignore[no-untyped-def]
    """A database whose read-only session factory hands out the returned session."""
    database, _ = _database(mocker)
    reader = mocker.AsyncMock()
    reader.sync_session.info = {}
    database.read_session_factory.return_value = reader
    return database, reader


async def test_a_safe_request_reads_without_a_transaction(mocker: MockerFixture) -> None:
    database, reader = _reader(mocker)
    generator = get_unit_of_work(GET, database)
    work = await generator.__anext__()
    assert work.session is reader
    assert work.read_only
    with pytest.raises(StopAsyncIteration):
        await generator.__anext__()
    database.session_factory.assert_not_called()
    # Nothing to commit or roll back in autocommit: closing returns the connection.
    reader.commit.assert_not_awaited()
    reader.rollback.assert_not_awaited()
    reader.close.assert_awaited_once()


async def test_a_safe_request_that_fails_still_closes_its_session(
    mocker: MockerFixture,
) -> None:
    database, reader = _reader(mocker)
    generator = get_unit_of_work(GET, database)
    await generator.__anext__()
    with pytest.raises(Conflict):
        await generator.athrow(Conflict("taken"))
    reader.close.assert_awaited_once()
