"""Delivering webhooks: the dispatcher fills the outbox from the event log, workers empty it.

- The dispatcher reads the log after each endpoint's own position (kept in the database, so
  an event committed while no process ran is still dispatched), creates the endpoint's
  deliveries and moves its position, in one transaction. An endpoint is dispatched by one
  process at a time (its row is locked; the others skip it that round). A new endpoint's
  position is the newest visible event at its creation: it gets exactly what follows.
- Workers claim due deliveries by lease (`WebhookDeliveryRepository.claim`), attempt each with no
  transaction open, and record the result only while their claim is current. A worker that
  dies mid-attempt leaves the lease to run out: the delivery is attempted again, never lost
  (at least once; receivers deduplicate by `webhook-id`).
- A failure is retried after each delay of WEBHOOK_RETRY_SCHEDULE_SECONDS in turn (with
  jitter; a 429/503's Retry-After is honoured), then the delivery fails. 410 Gone disables
  the endpoint at once; so do WEBHOOK_DISABLE_AFTER_DAYS without a success.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src import __version__
from src.core.cursors import CursorCodec
from src.core.ids import new_id
from src.core.logging import get_logger
from src.core.metrics import observe_webhook_attempt, observe_webhook_queue
from src.core.secretbox import SecretBox, SecretUnreadable
from src.core.webhook.http import Outcome, WebhookSender
from src.core.webhook.signing import sign
from src.models.event import Event
from src.repositories.event.log import EventRepository
from src.repositories.event.position import Position
from src.repositories.webhook.delivery import Claimed, WebhookDeliveryRepository
from src.repositories.webhook.endpoint import Subscriber, WebhookRepository
from src.schemas.feed import event_json
from src.services.feed import encode_position, position_of

log = get_logger(__name__)

# Events read per dispatch round.
DISPATCH_BATCH = 500
# A Retry-After beyond this is read as this (a receiver cannot park a delivery for weeks).
MAX_RETRY_AFTER = 86_400.0
# Delays are stretched or shrunk by up to this fraction, so failures that happened together
# are not retried together.
JITTER = 0.1
GONE = "the endpoint answered 410 Gone"
USER_AGENT = f"Stockroom-Webhooks/{__version__}"


@dataclass(frozen=True)
class DeliveryPolicy:
    schedule: tuple[float, ...]
    timeout: float
    disable_after: timedelta
    concurrency: int
    poll_seconds: float
    per_endpoint: int = 4

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts: an attempt is cut at `timeout`; the rest is margin for
        recording its result. Past it, another worker may attempt the delivery again."""
        return timedelta(seconds=self.timeout * 2 + 5)

    def retry_in(self, step: int, retry_after: float | None) -> float | None:
        """Seconds until the next attempt after failure number `step + 1` of this round, or
        None when the schedule is spent."""
        if step >= len(self.schedule):
            return None
        delay = self.schedule[step] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay


async def dispatch(session_factory: async_sessionmaker[AsyncSession], codec: CursorCodec) -> int:
    """One round: events after each active endpoint's position become its deliveries, and
    its position moves past them. Returns the most events read for one position (a full
    batch means there may be more)."""
    async with session_factory() as session:
        webhooks = WebhookRepository(session)
        events = EventRepository(session)
        oldest = await webhooks.oldest_position()
        if oldest is None or not await events.any_visible_after(oldest):
            return 0  # the usual round: two reads, no transaction id taken
        by_position: dict[Position, list[Subscriber]] = {}
        for endpoint in await webhooks.lock_subscribers():
            by_position.setdefault(endpoint.position, []).append(endpoint)
        rows: list[dict[str, object]] = []
        read = 0
        # Endpoints that are caught up share a position: the log is read once for them.
        for position, endpoints in by_position.items():
            page = await events.read_after(position, limit=DISPATCH_BATCH)
            if not page:
                continue
            read = max(read, len(page))
            for event in page:
                payload: str | None = None
                for endpoint in endpoints:
                    if endpoint.event_types and event.type not in endpoint.event_types:
                        continue
                    payload = payload or _payload(codec, event)
                    rows.append(
                        {
                            "id": new_id(),
                            "endpoint_id": endpoint.id,
                            "event_id": encode_position(codec, position_of(event)),
                            "event_type": event.type,
                            "payload": payload,
                        }
                    )
            await webhooks.move([e.id for e in endpoints], position_of(page[-1]))
        await WebhookDeliveryRepository(session).add_deliveries(rows)
        await session.commit()
        return read


def _payload(codec: CursorCodec, event: Event) -> str:
    """The event as the feed shows it."""
    id_ = encode_position(codec, position_of(event))
    return event_json(id_, event.type, event.occurred_at, event.data, event.actor)


class WebhookWorker:
    """Per process: dispatches, claims up to `concurrency` deliveries and attempts them."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        codec: CursorCodec,
        box: SecretBox,
        sender: WebhookSender,
        policy: DeliveryPolicy,
    ) -> None:
        self.session_factory = session_factory
        self.codec = codec
        self.box = box
        self.sender = sender
        self.policy = policy
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Until cancelled; a database outage only delays the next round."""
        try:
            while True:
                busy = False
                try:
                    busy = await self.round()
                except Exception:
                    log.warning("webhook_round_failed", exc_info=True)
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.policy.poll_seconds)
                self._wake.clear()
        finally:
            for task in list(self._running):
                task.cancel()  # its lease runs out and another attempt follows
            await asyncio.gather(*self._running, return_exceptions=True)

    async def round(self) -> bool:
        """Dispatch and start due attempts; True when there may be more to do right now."""
        try:
            more_events = await dispatch(self.session_factory, self.codec) >= DISPATCH_BATCH
        except Exception:  # claims go on: deliveries already queued are not held up
            log.warning("webhook_dispatch_failed", exc_info=True)
            more_events = False
        free = self.policy.concurrency - len(self._running)
        if free <= 0:
            await self._wake.wait()  # a slot frees up
            return True
        async with self.session_factory() as session:
            claimed = await WebhookDeliveryRepository(session).claim(
                free, self.policy.lease, per_endpoint=self.policy.per_endpoint
            )
            await session.commit()
        for claim in claimed:
            task = asyncio.create_task(self.attempt(claim))
            self._running.add(task)
            task.add_done_callback(self._finished)
        return more_events or len(claimed) == free

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def attempt(self, claim: Claimed) -> None:
        try:
            outcome = await self._send(claim)
        except SecretUnreadable:
            outcome = Outcome(None, "the signing secret cannot be read with SECRET_KEY", None, 0)
        except Exception:  # a bug of ours: recorded as a failed attempt, never a stuck one
            log.exception("webhook_attempt_crashed", delivery_id=str(claim.id))
            outcome = Outcome(None, "internal error while attempting the delivery", None, 0)
        try:
            await self._record(claim, outcome)
        except Exception:  # the lease runs out and the delivery is attempted again
            log.warning("webhook_record_failed", delivery_id=str(claim.id), exc_info=True)

    async def _send(self, claim: Claimed) -> Outcome:
        secrets = [self.box.open(claim.secret)]
        if claim.previous_secret is not None:
            # An old secret this server cannot read any more signs nothing; the current
            # one still does.
            with contextlib.suppress(SecretUnreadable):
                secrets.append(self.box.open(claim.previous_secret))
        body = claim.payload.encode()
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": claim.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secrets, claim.event_id, timestamp, body),
        }
        return await self.sender.post(claim.url, headers, body)

    async def _record(self, claim: Claimed, outcome: Outcome) -> None:
        async with self.session_factory() as session:
            webhooks = WebhookRepository(session)
            deliveries = WebhookDeliveryRepository(session)
            await webhooks.lock(claim.endpoint_id)
            if outcome.delivered and outcome.status_code is not None:
                current = await deliveries.delivered(claim, outcome.status_code)
                if current:
                    await webhooks.note_success(claim.endpoint_id)
                result = "delivered"
            elif outcome.status_code == 410:
                current = await deliveries.attempt_failed(claim, 410, outcome.error or GONE, None)
                if current:
                    await disable_endpoint(session, claim.endpoint_id, GONE)
                result = "gone"
            else:
                retry_in = self.policy.retry_in(claim.step, outcome.retry_after)
                error = outcome.error or "failed"
                current = await deliveries.attempt_failed(
                    claim, outcome.status_code, error, retry_in
                )
                result = "retry" if retry_in is not None else "failed"
                if current and await webhooks.note_failure(
                    claim.endpoint_id, self.policy.disable_after
                ):
                    days = self.policy.disable_after / timedelta(days=1)
                    await disable_endpoint(
                        session, claim.endpoint_id, f"no successful delivery for {days:g} days"
                    )
                    result = "disabled"
            if not current:
                await deliveries.release(claim)
            await session.commit()
        observe_webhook_attempt(result if current else "stale", outcome.seconds)
        log.info(
            "webhook_attempt",
            delivery_id=str(claim.id),
            endpoint_id=str(claim.endpoint_id),
            attempt=claim.attempt,
            status_code=outcome.status_code,
            outcome=result if current else "stale",
            error=outcome.error,
            duration_ms=round(outcome.seconds * 1000, 1),
        )


async def disable_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, reason: str) -> None:
    """Stop deliveries to the endpoint (410 Gone, or days without a success): it is marked
    inactive with `reason`, and what was still pending for it fails (recover requeues it).
    The endpoint's row is locked first, as everywhere."""
    await WebhookRepository(session).disable(endpoint_id, reason)
    await WebhookDeliveryRepository(session).fail_pending(
        endpoint_id, f"endpoint disabled: {reason}"
    )


async def measure_queue(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Keep the queue-depth and oldest-pending gauges current."""
    async with session_factory() as session:
        depth, oldest = await WebhookDeliveryRepository(session).queue_stats()
    observe_webhook_queue(depth, oldest)


async def purge_finished_deliveries(
    session_factory: async_sessionmaker[AsyncSession], retention_days: float, *, batch: int
) -> int:
    """Delivered and failed deliveries are kept as long as events are: the older ones are
    deleted `batch` at a time, each batch its own short transaction (a long delete holds the
    change feed back), until none is left; how many went."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    total = 0
    while True:
        async with session_factory() as session:
            purged = await WebhookDeliveryRepository(session).purge_finished_before(
                cutoff, batch=batch
            )
            await session.commit()
        total += purged
        if purged < batch:
            return total
