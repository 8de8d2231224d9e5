"""Prometheus metrics.

With several worker processes (`stockroom serve --workers N`) each process writes its
samples to PROMETHEUS_MULTIPROC_DIR and `/metrics` merges them, so a scrape landing on any
worker sees the whole instance.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "stockroom_http_requests_total",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "stockroom_http_request_duration_seconds",
    "HTTP request latency by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_POOL = Gauge(
    "stockroom_db_pool_connections",
    "Database pool connections by state (in_use, idle)",
    ["state"],
    multiprocess_mode="livesum",
)
_DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DB_QUERY_LATENCY = Histogram(
    "stockroom_db_query_duration_seconds",
    "SQL statement time by repository operation (e.g. ProductRepository.get; never the SQL)",
    ["operation"],
    buckets=_DB_BUCKETS,
)
DB_POOL_WAIT = Histogram(
    "stockroom_db_pool_wait_seconds",
    "Time to get a database connection from the pool (waiting for one, or opening one)",
    buckets=_DB_BUCKETS,
)
MOVEMENTS = Counter("stockroom_movements_posted_total", "Stock movements posted, by kind", ["kind"])
IDEMPOTENT_REPLAYS = Counter(
    "stockroom_idempotent_replays_total", "POSTs answered from a stored idempotent response"
)
EVENT_FEED_LAG = Gauge(
    "stockroom_event_feed_lag_seconds",
    "How long the oldest committed event the change feed cannot show yet has been waiting "
    "(seconds since its transaction began): a still-running transaction holds it back",
    multiprocess_mode="livemax",
)
WEBHOOK_ATTEMPTS = Counter(
    "stockroom_webhook_attempts_total",
    "Webhook delivery attempts by outcome: delivered, retry (will be attempted again), failed "
    "(schedule spent), gone (410: endpoint disabled), disabled (days of failures), stale "
    "(the claim had run out; another attempt owns the delivery)",
    ["outcome"],
)
WEBHOOK_ATTEMPT_LATENCY = Histogram(
    "stockroom_webhook_attempt_duration_seconds",
    "Webhook attempts from connect to answer (or timeout)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
WEBHOOK_QUEUE_DEPTH = Gauge(
    "stockroom_webhook_queue_depth",
    "Webhook deliveries pending (due now or waiting for a retry)",
    multiprocess_mode="livemax",
)
WEBHOOK_OLDEST_PENDING = Gauge(
    "stockroom_webhook_oldest_pending_seconds",
    "Age of the oldest pending webhook delivery (0 when none)",
    multiprocess_mode="livemax",
)
LOGIN_FAILURES = Counter("stockroom_login_failures_total", "Password logins refused")
LOGIN_THROTTLED = Counter("stockroom_login_throttled_total", "Login attempts rate-limited")

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Label values come from a fixed set only: a value taken from the request (a path, a method
# token) would add a series per distinct value, and anyone could grow the scrape without end.
UNMATCHED_ROUTE = "<unmatched>"
OTHER_METHOD = "<other>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def render() -> bytes:
    """The exposition text: this process, or every worker's when in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


# The children of each (method, route, status) series: `labels()` takes a lock and builds
# the key on every call; the set of series is bounded (see above), so is this cache.
_REQUEST_SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """`route` is a route template or UNMATCHED_ROUTE, never a raw path."""
    key = (method if method in _METHODS else OTHER_METHOD, route, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        labels = (key[0], route, str(status))
        series = _REQUEST_SERIES[key] = REQUESTS.labels(*labels), LATENCY.labels(*labels)
    requests, latency = series
    requests.inc()
    latency.observe(seconds)


_POOL_IN_USE = DB_POOL.labels("in_use")
_POOL_IDLE = DB_POOL.labels("idle")


def observe_pool(in_use: int, idle: int) -> None:
    _POOL_IN_USE.set(in_use)
    _POOL_IDLE.set(idle)


def observe_feed_lag(seconds: float) -> None:
    EVENT_FEED_LAG.set(seconds)


def observe_query(operation: str, seconds: float) -> None:
    """`operation` is a repository method's qualified name or a fixed placeholder."""
    DB_QUERY_LATENCY.labels(operation).observe(seconds)


def observe_pool_wait(seconds: float) -> None:
    DB_POOL_WAIT.observe(seconds)


def observe_webhook_attempt(outcome: str, seconds: float) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome).inc()
    WEBHOOK_ATTEMPT_LATENCY.observe(seconds)


def observe_webhook_queue(depth: int, oldest_seconds: float) -> None:
    WEBHOOK_QUEUE_DEPTH.set(depth)
    WEBHOOK_OLDEST_PENDING.set(oldest_seconds)
