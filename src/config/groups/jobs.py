"""Background jobs: how often each periodic job runs, and the batches the draining ones take.

Every interval here stays a setting: the tests shorten each one to watch its job run.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class JobSettings(BaseModel):
    # `stockroom serve` also runs the background jobs so one command is a whole service;
    # false leaves them to `stockroom worker` processes, so API processes scale apart from
    # the jobs. The gauges are measured where /metrics is served either way.
    background_jobs: bool = Field(
        default=True,
        description="`serve` also runs the background jobs (purges, reservation sweeper, "
        "webhook delivery); `false` where `stockroom worker` processes run them",
    )
    # Idempotency records are kept 24 h; this is how often expired ones are deleted.
    idempotency_purge_interval_seconds: float = Field(
        default=600, gt=0, description="how often expired idempotency records are deleted"
    )
    # How often refresh sessions past their family's expiry are deleted.
    refresh_session_purge_interval_seconds: float = Field(
        default=3600,
        gt=0,
        description="how often refresh sessions past their expiry are deleted",
    )
    # Events past EVENTS_RETENTION_DAYS are deleted this often.
    events_purge_interval_seconds: float = Field(
        default=3600,
        gt=0,
        description="how often the event purge runs (in batches, each its own short transaction)",
    )
    # API clients' last use is noted in memory per request and written this often (and at
    # shutdown), by every serving process whatever BACKGROUND_JOBS says.
    client_usage_flush_seconds: float = Field(
        default=60,
        gt=0,
        description="how often each process writes its API clients' `last_used_at` (kept to "
        "the minute)",
    )
    # The feed's lag (stockroom_event_feed_lag_seconds) is measured this often.
    events_lag_interval_seconds: float = Field(
        default=5, gt=0, description="how often the feed-lag gauge is measured"
    )
    # Reservations past their expiry stop holding stock; this often they are marked
    # expired (with their events) and what they held is freed.
    reservation_sweep_seconds: float = Field(
        default=5,
        gt=0,
        le=3600,
        description="how often reservations past their expiry are marked expired and their "
        "stock freed",
    )
    # Background jobs drain in batches, each its own short transaction (a long one holds the
    # feed back), until nothing is due: levels per sweep batch, finished webhook
    # deliveries deleted per purge batch.
    reservation_sweep_batch: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="levels a sweep takes per batch; it takes batch after batch until no "
        "level is due",
    )
    webhook_purge_batch: int = Field(
        default=10_000,
        ge=1,
        le=100_000,
        description="finished webhook deliveries past retention deleted per batch (each its "
        "own short transaction); the purge runs batches until none is left",
    )
