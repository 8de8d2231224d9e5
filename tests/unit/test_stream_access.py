"""When an event stream must end, decided without a database where none is needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_mock import MockerFixture
from sqlalchemy.exc import OperationalError

from src.models.principal import Principal
from src.models.user import ActiveUser, Role
from src.services.auth import Grant
from src.services.stream_access import EXPIRED, UNVERIFIED, StreamAccessService


def grant(expires_in: float) -> Grant:
    now = datetime.now(UTC)
    user = ActiveUser(uuid.uuid4(), "a@example.com", "A", Role.VIEWER, True, None, now, now)
    return Grant(Principal.of_user(user), uuid.uuid4(), now, now + timedelta(seconds=expires_in))


async def test_an_expired_grant_ends_without_a_query(mocker: MockerFixture) -> None:
    factory = mocker.MagicMock()
    service = StreamAccessService(factory, recheck_seconds=0.01)
    assert await service.until_ended(grant(-1)) == EXPIRED
    factory.assert_not_called()


async def test_the_deadline_comes_before_the_next_recheck(mocker: MockerFixture) -> None:
    factory = mocker.MagicMock()
    service = StreamAccessService(factory, recheck_seconds=60)
    assert await service.until_ended(grant(0.05)) == EXPIRED
    factory.assert_not_called()


@pytest.mark.parametrize("error", [OperationalError("SELECT", {}, Exception()), OSError()])
async def test_a_recheck_that_cannot_reach_the_database_ends_the_stream(
    mocker: MockerFixture, error: Any
) -> None:
    factory = mocker.MagicMock(side_effect=error)
    service = StreamAccessService(factory, recheck_seconds=0.01)
    assert await service.until_ended(grant(60)) == UNVERIFIED
