"""The outbox repository on its own: a dispatch round's deliveries in one call, however
many (an INSERT takes at most 32767 parameters)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.core.ids import new_id
from src.models.user import Role, User
from src.models.webhook import WebhookDelivery, WebhookEndpoint
from src.repositories.webhook.delivery import WebhookDeliveryRepository


@pytest.mark.slow
async def test_thousands_of_deliveries_are_queued_in_one_call_and_once(
    connection: AsyncConnection, make_user: Callable[..., Awaitable[User]]
) -> None:
    admin = await make_user(role=Role.ADMIN)
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        endpoint = WebhookEndpoint(
            url="https://93.184.215.14/hooks",
            secret=b"sealed",
            position_xid=0,
            position_seq=0,
            created_by=admin.id,
        )
        session.add(endpoint)
        await session.flush()
        rows = [
            {
                "id": new_id(),
                "endpoint_id": endpoint.id,
                "event_id": f"event-{n}",
                "event_type": "movement.created",
                "payload": "{}",
            }
            for n in range(4500)  # 36,000 parameters in one statement would be refused
        ]
        outbox = WebhookDeliveryRepository(session)
        await outbox.add_deliveries(rows)
        # The same events again (a round repeated after a crash): nothing new.
        await outbox.add_deliveries([{**row, "id": new_id()} for row in rows[:1500]])
        count = await session.scalar(
            select(func.count()).where(WebhookDelivery.endpoint_id == endpoint.id)
        )
        pending = await session.scalar(
            select(func.count()).where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at.is_not(None),
            )
        )
    assert count == 4500
    assert pending == 4500
