"""Which background jobs exist, built from the settings.

`background_jobs` is the work (purges, the reservation sweeper, webhook delivery): run by
`stockroom serve` unless BACKGROUND_JOBS=false, and by every `stockroom worker`. Each pass
takes its rows with FOR UPDATE SKIP LOCKED (the event purge: a try-lock), so processes
running the same job at once never do a row twice and never wait for each other.
`gauge_jobs` keep /metrics' gauges current and run only where /metrics is served.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.cursors import CursorCodec
from src.core.metrics import observe_feed_lag
from src.core.secretbox import SecretBox
from src.core.webhook.http import WebhookSender
from src.jobs.runner import Continuous, Job, Periodic
from src.services.client_usage import ClientUsage, flush_client_usage
from src.services.feed import measure_feed_lag, purge_expired_events
from src.services.idempotency import purge_expired
from src.services.refresh_session import purge_expired_sessions
from src.services.reservation import expire_overdue_reservations
from src.services.webhook.dispatch import (
    DeliveryPolicy,
    WebhookWorker,
    measure_queue,
    purge_finished_deliveries,
)

Factory = async_sessionmaker[AsyncSession]


@dataclass
class Resources:
    """What the jobs hold open besides the database, closed once they have stopped."""

    sender: WebhookSender | None = None

    async def aclose(self) -> None:
        if self.sender is not None:
            await self.sender.aclose()
            self.sender = None


def background_jobs(
    settings: Settings, factory: Factory, *, at_start: bool = False
) -> tuple[list[Job], Resources]:
    """The jobs and what they hold open; with `at_start` each periodic job makes its first
    pass at once (`stockroom worker`), else after its interval (`serve`, as always)."""
    periodic = functools.partial(Periodic, at_start=at_start)
    jobs: list[Job] = [
        periodic(
            "idempotency",
            settings.jobs.idempotency_purge_interval_seconds,
            functools.partial(purge_expired, factory),
        ),
        periodic(
            "refresh_session",
            settings.jobs.refresh_session_purge_interval_seconds,
            functools.partial(purge_expired_sessions, factory),
        ),
        periodic(
            "event",
            settings.jobs.events_purge_interval_seconds,
            functools.partial(purge_expired_events, factory, settings.feed.events_retention_days),
        ),
        periodic(
            "reservation",
            settings.jobs.reservation_sweep_seconds,
            functools.partial(
                expire_overdue_reservations, factory, batch=settings.jobs.reservation_sweep_batch
            ),
            action="expire",
        ),
        periodic(
            "webhook_delivery",
            settings.jobs.events_purge_interval_seconds,
            functools.partial(
                purge_finished_deliveries,
                factory,
                settings.feed.events_retention_days,
                batch=settings.jobs.webhook_purge_batch,
            ),
        ),
    ]
    resources = Resources()
    if settings.webhooks.webhook_concurrency > 0:  # 0: this process delivers no webhooks
        resources.sender = WebhookSender(
            allow_private_targets=settings.webhooks.webhook_allow_private_targets,
            timeout=settings.webhooks.webhook_timeout_seconds,
            max_response_bytes=settings.webhooks.webhook_max_response_bytes,
            require_https=not settings.is_development,
            # A connection per attempt that may run at once: none waits for the pool.
            max_connections=settings.webhooks.webhook_concurrency,
        )
        keys = (settings.secret_key or "", settings.secret_key_previous)
        worker = WebhookWorker(
            factory,
            CursorCodec(*keys),
            SecretBox(*keys),
            resources.sender,
            DeliveryPolicy(
                schedule=tuple(settings.webhooks.webhook_retry_schedule_seconds),
                timeout=settings.webhooks.webhook_timeout_seconds,
                disable_after=timedelta(days=settings.webhooks.webhook_disable_after_days),
                concurrency=settings.webhooks.webhook_concurrency,
                poll_seconds=settings.webhooks.webhook_poll_seconds,
                per_endpoint=settings.webhooks.webhook_concurrency_per_endpoint,
            ),
        )
        jobs.append(Continuous("webhook_worker", worker.run))
    return jobs, resources


async def _feed_lag(factory: Factory) -> None:
    observe_feed_lag(await measure_feed_lag(factory, timeout_ms=1000))


def gauge_jobs(settings: Settings, factory: Factory) -> list[Job]:
    """The feed's lag and the webhook queue, measured here rather than at scrape time: a
    scrape then never waits on (or adds load to) the database. They describe the shared
    database, so the serving process keeps them whether or not it runs the jobs."""
    return [
        Periodic(
            "event_feed_lag",
            settings.jobs.events_lag_interval_seconds,
            functools.partial(_feed_lag, factory),
            action="measure",
        ),
        Periodic(
            "webhook_queue",
            settings.jobs.events_lag_interval_seconds,
            functools.partial(measure_queue, factory),
            action="measure",
        ),
    ]


def serving_jobs(settings: Settings, factory: Factory, usage: ClientUsage) -> list[Job]:
    """What this serving process's own requests noted: API clients' last use lives in its
    memory until flushed, so the job runs wherever the API is served, whatever
    BACKGROUND_JOBS says (the lifespan flushes once more at shutdown)."""
    return [
        Periodic(
            "client_usage",
            settings.jobs.client_usage_flush_seconds,
            functools.partial(flush_client_usage, factory, usage),
            action="save",
        )
    ]
