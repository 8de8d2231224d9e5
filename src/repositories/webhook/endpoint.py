"""Webhook endpoints, each with its own place in the event log (the outbox of their
deliveries is `src.repositories.webhook.delivery`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, update

from src.core.cursors import CursorCodec
from src.models.event import XID8
from src.models.webhook import WebhookEndpoint
from src.repositories.base import PageResult, Repository, SortOrder
from src.repositories.event.position import Position

ENDPOINTS_NEWEST_FIRST = SortOrder(
    "newest", (WebhookEndpoint.created_at, WebhookEndpoint.id), descending=True
)
# Ids are UUIDv7: in creation order.
# The advisory lock that serialises endpoint creations (the cap on their number): the
# two-key form, whose key space never overlaps the one-key locks of idempotency keys.
_CREATION_LOCK = (0x5752_484B, 1)  # "WRHK"


class Subscriber(NamedTuple):
    """An active endpoint as the dispatcher needs it."""

    id: uuid.UUID
    event_types: frozenset[str]
    position: Position


class WebhookRepository(Repository[WebhookEndpoint]):
    model = WebhookEndpoint

    # ------------------------------------------------------------------ endpoints

    async def page(
        self, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[WebhookEndpoint]:
        return await self.paginate(
            select(WebhookEndpoint),
            order=ENDPOINTS_NEWEST_FIRST,
            codec=codec,
            cursor=cursor,
            limit=limit,
        )

    async def count_under_creation_lock(self) -> int:
        """How many endpoints exist, counted under a transaction-wide advisory lock that
        every creation takes: two creations cannot both count below the cap."""
        await self.session.execute(select(func.pg_advisory_xact_lock(*_CREATION_LOCK)))
        return int(await self.session.scalar(select(func.count(WebhookEndpoint.id))) or 0)

    async def all_for_update(self) -> list[WebhookEndpoint]:
        rows = await self.session.scalars(
            select(WebhookEndpoint).order_by(WebhookEndpoint.id).with_for_update()
        )
        return list(rows)

    async def lock(self, endpoint_id: uuid.UUID) -> bool:
        """Lock the endpoint's row (False: it is gone). Whoever changes an endpoint and its
        deliveries locks the endpoint first: one lock order, no deadlock."""
        found = await self.session.scalar(
            select(WebhookEndpoint.id)
            .where(WebhookEndpoint.id == endpoint_id)
            .with_for_update(key_share=True)
        )
        return found is not None

    async def oldest_position(self) -> Position | None:
        """The position of the active endpoint furthest behind (None: no active endpoint)."""
        row = (
            await self.session.execute(
                select(WebhookEndpoint.position_xid, WebhookEndpoint.position_seq)
                .where(WebhookEndpoint.is_active)
                .order_by(WebhookEndpoint.position_xid, WebhookEndpoint.position_seq)
                .limit(1)
            )
        ).first()
        return Position(int(row[0]), int(row[1])) if row else None

    async def lock_subscribers(self) -> list[Subscriber]:
        """The active endpoints, locked for this transaction; one another process is
        dispatching to right now (locked) is skipped."""
        rows = await self.session.execute(
            select(
                WebhookEndpoint.id,
                WebhookEndpoint.event_types,
                WebhookEndpoint.position_xid,
                WebhookEndpoint.position_seq,
            )
            .where(WebhookEndpoint.is_active)
            # NO KEY: deliveries inserted meanwhile (their foreign key) do not wait for it.
            .with_for_update(skip_locked=True, key_share=True)
        )
        return [
            Subscriber(r.id, frozenset(r.event_types), Position(int(r[2]), int(r[3]))) for r in rows
        ]

    async def move(self, endpoint_ids: Sequence[uuid.UUID], position: Position) -> None:
        """Deliveries up to `position` exist for these endpoints."""
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(endpoint_ids))
            .values(
                position_xid=bindparam("p_xid", position.xid, type_=XID8()),
                position_seq=position.seq,
            )
        )

    async def disable(self, endpoint_id: uuid.UUID, reason: str) -> bool:
        """Mark the endpoint inactive with `reason`; False when it was not active."""
        disabled = await self.session.scalar(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.is_active)
            .values(is_active=False, disabled_reason=reason, updated_at=func.now())
            .returning(WebhookEndpoint.id)
        )
        return disabled is not None

    async def note_success(self, endpoint_id: uuid.UUID) -> None:
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
        )

    async def note_failure(self, endpoint_id: uuid.UUID, give_up_after: timedelta) -> bool:
        """Start (or continue) the endpoint's run of failures; True once it has lasted
        `give_up_after` without a success."""
        since = await self.session.scalar(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, func.now()))
            .returning(WebhookEndpoint.failing_since <= func.now() - give_up_after)
        )
        return bool(since)
