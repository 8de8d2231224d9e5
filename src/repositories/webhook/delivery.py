"""The delivery outbox: one row per event and endpoint.

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

from sqlalchemy import and_, case, delete, func, insert, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from src.core.cursors import CursorCodec
from src.core.ids import new_id
from src.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from src.repositories.base import PageResult, Repository, SortOrder, keyset_page
from src.schemas.filter import DeliveryFilter

DELIVERIES_NEWEST_FIRST = SortOrder("newest", (WebhookDelivery.id,), descending=True)

# A literal, not a bound parameter: a generic plan of a prepared statement can then still
# prove the partial indexes' `status = 'pending'`.
_PENDING = WebhookDelivery.status == literal_column("'pending'")
# Rows per INSERT: asyncpg takes at most 32767 parameters per statement (8 per row here).
_INSERT_CHUNK = 1000


def _running() -> Any:
    """An attempt holds the lease (it may be running, whatever the status says now)."""
    return func.coalesce(WebhookDelivery.claimed_until > func.now(), False)


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


class WebhookDeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery

    async def fail_pending(self, endpoint_id: uuid.UUID, error: str) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, _PENDING)
            .values(
                # `claimed_until` stays: an attempt running now keeps its lease, so no retry
                # or recovery starts another beside it.
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                last_error=error[:500],
                updated_at=func.now(),
            )
        )

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue deliveries, due now; one already made for the same (endpoint, event) stays."""
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            await self.session.execute(
                pg_insert(WebhookDelivery)
                .values([{**row, "next_attempt_at": func.now()} for row in chunk])
                .on_conflict_do_nothing(constraint="uq_webhook_deliveries_endpoint_event")
            )

    async def queue(
        self, endpoint_id: uuid.UUID, event_id: str, event_type: str, payload: str
    ) -> WebhookDelivery:
        """One delivery, due now."""
        delivery = await self.session.scalars(
            insert(WebhookDelivery)
            .values(
                id=new_id(),
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=func.now(),
            )
            .returning(WebhookDelivery)
        )
        return delivery.one()

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

    async def claim(self, limit: int, lease: timedelta, *, per_endpoint: int) -> list[Claimed]:
        """Up to `limit` due deliveries, each leased for one attempt, soonest due first, and
        at most `per_endpoint` running at once per endpoint (counting every process's
        leases): a slow or dead receiver cannot take every worker from the others. Claims
        racing in two processes may briefly exceed it."""
        running = aliased(WebhookDelivery)
        busy = (
            select(func.count())
            .where(
                running.endpoint_id == WebhookEndpoint.id,
                running.claimed_until.is_not(None),
                running.claimed_until > func.now(),
            )
            # Counted per endpoint of the outer query (two levels up), not over all of them.
            .correlate(WebhookEndpoint)
            .scalar_subquery()
        )
        # Per endpoint, its soonest due deliveries, as many as it has free slots.
        picks = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.endpoint_id == WebhookEndpoint.id,
                _PENDING,
                WebhookDelivery.next_attempt_at <= func.now(),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(func.greatest(per_endpoint - busy, 0))
            .lateral("picks")
        )
        candidates = (
            select(picks.c.id)
            .select_from(WebhookEndpoint)
            .join(picks, true())
            .where(WebhookEndpoint.is_active)
        )
        due = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.id.in_(candidates),
                _PENDING,
                WebhookDelivery.next_attempt_at <= func.now(),
            )
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
        """Record the claim's success, also when a pause failed the delivery meanwhile (it
        did arrive); False when the claim was no longer current."""
        done = await self.session.scalar(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claim.id,
                WebhookDelivery.attempts == claim.attempt,
                WebhookDelivery.status != DeliveryStatus.DELIVERED,
            )
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

    async def release(self, claim: Claimed) -> None:
        """End the claim's lease when its result was not recorded (the delivery was paused or
        retried meanwhile): its attempt is over."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == claim.id, WebhookDelivery.attempts == claim.attempt)
            .values(claimed_until=None)
        )

    async def requeue(
        self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        """Queue the delivery for an attempt now, with a fresh retry schedule; one whose
        attempt is running right now is left to it. None when there is no such delivery."""
        running = _running()
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
                ~_running(),
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

    async def purge_finished_before(self, cutoff: datetime, *, batch: int) -> int:
        """Delete up to `batch` delivered or failed deliveries last changed before `cutoff`;
        rows another transaction holds (another purger's batch) are skipped, not waited for."""
        doomed = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status != literal_column("'pending'"),
                WebhookDelivery.updated_at < cutoff,
            )
            .limit(batch)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(doomed))
            .returning(WebhookDelivery.id)
        )
        return len(rows.all())
