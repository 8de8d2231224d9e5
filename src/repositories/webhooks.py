"""Webhook endpoints, the delivery outbox and the dispatcher's place in the event log.

Deliveries are claimed by lease: one short transaction picks due rows (`FOR UPDATE SKIP
LOCKED`, so concurrent workers never pick the same row), moves their next attempt past the
lease and commits. The attempt runs with no transaction open (an open one would hold the
change feed back); its result is written only if the row still carries that claim
(`attempts` unchanged), so a result arriving after the lease ran out changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from src.core.cursors import CursorCodec
from src.models.event import XID8
from src.models.webhook import DeliveryStatus, WebhookDelivery, WebhookDispatcher, WebhookEndpoint
from src.repositories.base import PageResult, Repository, SortOrder, keyset_page
from src.repositories.events import Position
from src.schemas.filters import DeliveryFilter

ENDPOINTS_NEWEST_FIRST = SortOrder(
    "newest", (WebhookEndpoint.created_at, WebhookEndpoint.id), descending=True
)
# Ids are UUIDv7: in creation order.
DELIVERIES_NEWEST_FIRST = SortOrder("newest", (WebhookDelivery.id,), descending=True)

_PENDING = WebhookDelivery.status == DeliveryStatus.PENDING


class Subscriber(NamedTuple):
    """An active endpoint as the dispatcher needs it."""

    id: uuid.UUID
    event_types: frozenset[str]
    start: Position


class Claimed(NamedTuple):
    """A delivery claimed for one attempt, with what the attempt needs of its endpoint."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str
    payload: str
    attempt: int
    step: int
    url: str
    secret: bytes
    previous_secret: bytes | None


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

    async def subscribers(self, position: Position) -> list[Subscriber]:
        """The active endpoints; one met for the first time (or since a pause) starts at
        `position`, the dispatcher's, which is recorded for it."""
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.is_active, WebhookEndpoint.start_xid.is_(None))
            .values(
                start_xid=bindparam("s_xid", position.xid, type_=XID8()), start_seq=position.seq
            )
        )
        rows = await self.session.execute(
            select(
                WebhookEndpoint.id,
                WebhookEndpoint.event_types,
                WebhookEndpoint.start_xid,
                WebhookEndpoint.start_seq,
            ).where(WebhookEndpoint.is_active)
        )
        # One committed since the UPDATE (read committed) starts where the UPDATE put the rest.
        return [
            Subscriber(r.id, frozenset(r.event_types), Position(int(r.start_xid), int(r.start_seq)))
            if r.start_xid is not None
            else Subscriber(r.id, frozenset(r.event_types), position)
            for r in rows
        ]

    async def disable(self, endpoint_id: uuid.UUID, reason: str) -> bool:
        """Stop deliveries to the endpoint: it is marked inactive with `reason`, and what was
        still pending for it fails (recover requeues it). False when it was not active."""
        disabled = await self.session.scalar(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.is_active)
            .values(is_active=False, disabled_reason=reason, updated_at=func.now())
            .returning(WebhookEndpoint.id)
        )
        await self.fail_pending(endpoint_id, f"endpoint disabled: {reason}")
        return disabled is not None

    async def fail_pending(self, endpoint_id: uuid.UUID, error: str) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, _PENDING)
            .values(
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                claimed_until=None,
                last_error=error[:500],
                updated_at=func.now(),
            )
        )

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

    # ------------------------------------------------------------------ deliveries

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue deliveries, due now; one already made for the same (endpoint, event) stays."""
        if rows:
            await self.session.execute(
                pg_insert(WebhookDelivery)
                .values([{**row, "next_attempt_at": func.now()} for row in rows])
                .on_conflict_do_nothing(constraint="uq_webhook_deliveries_endpoint_event")
            )

    async def delivery(
        self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        return await self.session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
            )
        )

    async def deliveries(
        self,
        endpoint_id: uuid.UUID,
        filters: DeliveryFilter,
        *,
        codec: CursorCodec,
        cursor: str | None,
        limit: int,
    ) -> PageResult[WebhookDelivery]:
        statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if filters.status is not None:
            statement = statement.where(WebhookDelivery.status == filters.status)
        return await self._deliveries_page(statement, codec=codec, cursor=cursor, limit=limit)

    async def _deliveries_page(self, statement: Any, **paging: Any) -> PageResult[WebhookDelivery]:
        page: PageResult[WebhookDelivery] = await keyset_page(
            self.session,
            statement,
            scope="webhook_deliveries:newest",
            order=DELIVERIES_NEWEST_FIRST,
            **paging,
        )
        return page

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        """Up to `limit` due deliveries of active endpoints, each leased for one attempt."""
        due = (
            select(WebhookDelivery.id)
            .where(_PENDING, WebhookDelivery.next_attempt_at <= func.now())
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        claimed = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id == due.c.id)
            .values(
                attempts=WebhookDelivery.attempts + 1,
                claimed_until=func.now() + lease,
                next_attempt_at=func.now() + lease,
                updated_at=func.now(),
            )
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.endpoint_id,
                WebhookDelivery.event_id,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                WebhookDelivery.step,
            )
            .cte("claimed")
        )
        # The previous secret signs too until its overlap ends (the database's clock).
        previous = case(
            (
                WebhookEndpoint.previous_secret_expires_at > func.now(),
                WebhookEndpoint.previous_secret,
            ),
            else_=None,
        )
        rows = await self.session.execute(
            select(
                claimed.c.id,
                claimed.c.endpoint_id,
                claimed.c.event_id,
                claimed.c.payload,
                claimed.c.attempts,
                claimed.c.step,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                previous.label("previous_secret"),
            ).join(WebhookEndpoint, WebhookEndpoint.id == claimed.c.endpoint_id)
        )
        return [Claimed(*row) for row in rows]

    def _this_claim(self, claim: Claimed) -> Any:
        return and_(
            WebhookDelivery.id == claim.id,
            WebhookDelivery.attempts == claim.attempt,
            _PENDING,
        )

    async def delivered(self, claim: Claimed, status_code: int) -> bool:
        """Record the claim's success; False when the claim was no longer current."""
        done = await self.session.scalar(
            update(WebhookDelivery)
            .where(self._this_claim(claim))
            .values(
                status=DeliveryStatus.DELIVERED,
                next_attempt_at=None,
                claimed_until=None,
                last_status_code=status_code,
                last_error=None,
                delivered_at=func.now(),
                updated_at=func.now(),
            )
            .returning(WebhookDelivery.id)
        )
        return done is not None

    async def attempt_failed(
        self, claim: Claimed, status_code: int | None, error: str, retry_in: float | None
    ) -> bool:
        """Record the claim's failure: retried in `retry_in` seconds, or failed for good when
        None. False when the claim was no longer current."""
        if retry_in is None:
            values: dict[str, Any] = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
        else:
            values = {
                "next_attempt_at": func.now() + timedelta(seconds=retry_in),
                "step": WebhookDelivery.step + 1,
            }
        done = await self.session.scalar(
            update(WebhookDelivery)
            .where(self._this_claim(claim))
            .values(
                **values,
                claimed_until=None,
                last_status_code=status_code,
                last_error=error[:500],
                updated_at=func.now(),
            )
            .returning(WebhookDelivery.id)
        )
        return done is not None

    async def requeue(
        self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        """Queue the delivery for an attempt now, with a fresh retry schedule; one whose
        attempt is running right now is left to it. None when there is no such delivery."""
        # Unclaimed, claimed_until is null: coalesced, or NOT(... > now()) would match nothing.
        leased = func.coalesce(WebhookDelivery.claimed_until > func.now(), False)
        running = and_(_PENDING, leased)
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.endpoint_id == endpoint_id,
                ~running,
            )
            .values(
                status=DeliveryStatus.PENDING,
                next_attempt_at=func.now(),
                claimed_until=None,
                step=0,
                updated_at=func.now(),
            )
        )
        return await self.session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
            .execution_options(populate_existing=True)
        )

    async def recover(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        """Queue again every failed delivery created since `since`, with fresh schedules."""
        rows = await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.FAILED,
                WebhookDelivery.created_at >= since,
            )
            .values(
                status=DeliveryStatus.PENDING,
                next_attempt_at=func.now(),
                step=0,
                updated_at=func.now(),
            )
            .returning(WebhookDelivery.id)
        )
        return len(rows.all())

    async def queue_stats(self) -> tuple[int, float]:
        """Pending deliveries, and the age in seconds of the oldest (0 when none)."""
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.extract("epoch", func.now() - func.min(WebhookDelivery.created_at)), 0
                    ),
                ).where(_PENDING)
            )
        ).one()
        return int(row[0]), float(row[1])

    async def purge_finished_before(self, cutoff: datetime, *, batch: int = 10_000) -> int:
        """Delete up to `batch` delivered or failed deliveries last changed before `cutoff`."""
        doomed = (
            select(WebhookDelivery.id)
            .where(~_PENDING, WebhookDelivery.updated_at < cutoff)
            .limit(batch)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(doomed))
            .returning(WebhookDelivery.id)
        )
        return len(rows.all())

    # ------------------------------------------------------------------ dispatcher

    async def dispatcher_position(self) -> Position | None:
        row = (
            await self.session.execute(select(WebhookDispatcher.xid, WebhookDispatcher.seq))
        ).first()
        return Position(int(row.xid), int(row.seq)) if row else None

    async def lock_dispatcher(self, initial: Position) -> Position | None:
        """Take the dispatcher's row for this transaction (created at `initial` if missing);
        None when another process holds it (it is dispatching right now)."""
        await self.session.execute(
            pg_insert(WebhookDispatcher)
            .values(
                singleton=True, xid=bindparam("i_xid", initial.xid, type_=XID8()), seq=initial.seq
            )
            .on_conflict_do_nothing(index_elements=[WebhookDispatcher.singleton])
        )
        row = (
            await self.session.execute(
                select(WebhookDispatcher.xid, WebhookDispatcher.seq).with_for_update(
                    skip_locked=True
                )
            )
        ).first()
        return Position(int(row.xid), int(row.seq)) if row else None

    async def move_dispatcher(self, position: Position) -> None:
        await self.session.execute(
            update(WebhookDispatcher).values(
                xid=bindparam("d_xid", position.xid, type_=XID8()), seq=position.seq
            )
        )
