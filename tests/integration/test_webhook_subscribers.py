"""The dispatcher's subscribers: an endpoint committed by another request between the
statement that records new endpoints' start and the read of the active ones (read committed
sees it in the second, not the first) starts where the others did, instead of failing the
dispatch round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Update, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.models.user import Role, User
from src.repositories.events import Position
from src.repositories.webhooks import WebhookRepository

INSERT_ENDPOINT = text(
    "INSERT INTO webhook_endpoints (id, url, secret, created_by, is_active) "
    "VALUES (gen_random_uuid(), :url, '\\x00', :user_id, true) RETURNING id"
)


async def test_an_endpoint_committed_during_the_read_starts_at_the_position(
    connection: AsyncConnection, make_user: Callable[..., Awaitable[User]]
) -> None:
    admin = await make_user(role=Role.ADMIN)
    earlier = await connection.scalar(
        INSERT_ENDPOINT, {"url": "https://93.184.215.14/early", "user_id": admin.id}
    )
    position = Position(5_000, 7)
    late: list[Any] = []
    async with AsyncSession(bind=connection) as session:
        execute = session.execute

        async def then_another_commits(statement: Any, *args: Any, **kwargs: Any) -> Any:
            result = await execute(statement, *args, **kwargs)
            if isinstance(statement, Update):
                params = {"url": "https://93.184.215.14/late", "user_id": admin.id}
                late.append((await execute(INSERT_ENDPOINT, params)).scalar_one())
            return result

        session.execute = then_another_commits  # type: ignore[method-assign]
        subscribers = await WebhookRepository(session).subscribers(position)

    assert len(late) == 1
    assert {s.id: s.start for s in subscribers} == {earlier: position, late[0]: position}
    stored = await connection.execute(
        text("SELECT start_xid IS NULL FROM webhook_endpoints WHERE id = :id"), {"id": late[0]}
    )
    # Recorded by the next round, at that round's position (its events come after this one's).
    assert stored.scalar_one() is True
