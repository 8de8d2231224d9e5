"""Application factory: `create_app(settings)` builds one fully wired FastAPI app.

`uvicorn src.main:create_app --factory` (what `stockroom serve` runs) calls it with no
argument, so each worker process reads its settings from the environment.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src import __version__
from src.api import console, docs, health, metrics, problem_types
from src.api.caller_limits import CallerLimits
from src.api.deps import build_auth_policy, build_webhook_policy
from src.api.middleware import ProblemCORSMiddleware, RequestMiddleware, last_resort_handler
from src.api.openapi import install_openapi
from src.api.problems import install_exception_handlers
from src.api.v1.prefix import API_V1
from src.api.v1.routers import routers as v1_routers
from src.config import Settings, get_settings
from src.core.client_secrets import ClientSecrets
from src.core.cursors import CursorCodec
from src.core.database import Database
from src.core.exceptions import STALLED_FEED, StalledFeed
from src.core.logging import configure_logging, get_logger
from src.core.notifications import NotificationBroker
from src.core.passwords import configure_hashing
from src.core.ratelimit import Limit, RateLimiter, build_storage
from src.core.tokens import TokenCodec
from src.core.webhook.targets import configure_lookups
from src.jobs import JobRunner, background_jobs, gauge_jobs, serving_jobs
from src.services.client_grant import ClientAuth
from src.services.client_usage import ClientUsage, flush_client_usage
from src.services.feed_rebase import refuse_a_stalled_feed

log = get_logger(__name__)


def _build_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    timeout = settings.database.db_connect_timeout
    return Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )


async def _refuse_a_stalled_feed(db: Database) -> None:
    """Events restored with another server's transaction ids would stall the feed and the
    webhooks silently: refuse to start. (An unreachable database is the health check's.)"""
    try:
        async with db.session_factory() as session:
            await refuse_a_stalled_feed(session)
    except StalledFeed:
        log.error("startup refused", reason=STALLED_FEED)
        await db.dispose()
        raise
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("feed check skipped", error=type(exc).__name__)


async def _flush_client_usage(
    factory: async_sessionmaker[AsyncSession], usage: ClientUsage
) -> None:
    """What this process noted since the last flush, written before it exits."""
    try:
        await flush_client_usage(factory, usage)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("client usage not saved", error=type(exc).__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.db = Database.from_settings(settings)
    await _refuse_a_stalled_feed(app.state.db)
    app.state.redis = _build_redis(settings)
    app.state.rate_limiter = RateLimiter(
        build_storage(settings.redis_url, settings.redis_key_prefix)
    )
    app.state.client_auth = ClientAuth(
        tokens=app.state.tokens,
        secrets=app.state.client_secrets,
        limiter=app.state.rate_limiter,
        per_client=Limit.parse("token-client", settings.auth.token_rate_limit_per_client_id),
        usage=app.state.client_usage,
    )
    app.state.broker = NotificationBroker(
        settings.database.database_listen_url or settings.database.database_url or "",
        max_streams_per_user=settings.feed.sse_max_streams_per_user,
        max_streams=settings.feed.sse_max_streams,
        poll_seconds=settings.feed.events_poll_seconds,
        coalesce_seconds=settings.feed.sse_coalesce_ms / 1000,
    )
    factory = app.state.db.session_factory
    jobs = JobRunner()
    jobs.start(gauge_jobs(settings, factory))
    jobs.start(serving_jobs(settings, factory, app.state.client_usage))
    resources = None
    if settings.jobs.background_jobs:  # else `stockroom worker` processes run them
        work, resources = background_jobs(settings, factory)
        jobs.start(work)
    if app.state.owns_process:
        # Everything built so far (modules, routes, schemas, mappers) lives as long as the
        # process; frozen, full collections stop walking it and stalling requests.
        gc.collect()
        gc.freeze()
        # With the default threshold (700), the requests in flight set off a young collection
        # every few requests, each walking the rows they hold; objects die by reference count
        # long before 20,000, and reference cycles still get collected. Figures:
        # bench/README.md, "Where each request's CPU goes".
        gc.set_threshold(20_000, *gc.get_threshold()[1:])
    log.info("startup", environment=settings.environment.value, version=__version__)
    try:
        yield
    finally:
        await jobs.stop()
        await _flush_client_usage(factory, app.state.client_usage)
        await app.state.broker.close()
        if resources is not None:
            await resources.aclose()
        if app.state.redis is not None:
            await app.state.redis.aclose()
        await app.state.db.dispose()
        log.info("shutdown")


def build_token_codec(settings: Settings) -> TokenCodec:
    if not settings.secret_key:
        raise ValueError("SECRET_KEY is not set (load settings with load_settings())")
    return TokenCodec(
        secret_key=settings.secret_key,
        previous_keys=settings.secret_key_previous,
        issuer=settings.auth.jwt_issuer,
        audience=settings.auth.jwt_audience,
        ttl_seconds=settings.auth.access_token_ttl_seconds,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    # Without settings this is the server's factory, the only app in its process; tests and
    # tools build several apps per process and pass settings.
    owns_process = settings is None
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.effective_log_format.value)
    configure_hashing(
        concurrency=settings.auth.password_hash_concurrency,
        max_wait_seconds=settings.auth.password_hash_max_wait_seconds,
        memory_kib=settings.auth.password_hash_memory_kib,
        time_cost=settings.auth.password_hash_time_cost,
    )
    configure_lookups(threads=settings.webhooks.webhook_dns_threads)

    app = FastAPI(
        title="Stockroom",
        version=__version__,
        description="Inventory REST service with an append-only stock ledger.",
        openapi_url=f"{API_V1}/openapi.json",
        # /docs is src/api/docs.py: Swagger UI with its assets served from here, not a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry is unused here (metrics: /metrics; traces: none);
        # switched off, FastAPI no longer looks up three global OpenTelemetry providers on
        # every request to find out.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.owns_process = owns_process
    app.state.tokens = build_token_codec(settings)
    app.state.auth_policy = build_auth_policy(settings)
    app.state.cursors = CursorCodec(settings.secret_key or "", settings.secret_key_previous)
    app.state.webhook_policy = build_webhook_policy(settings)
    app.state.client_secrets = ClientSecrets(
        settings.secret_key or "", settings.secret_key_previous
    )
    # API clients' last use, noted by requests, written by the `client_usage` job.
    app.state.client_usage = ClientUsage()

    # One layer (src/api/middleware.py); CORS, when configured, runs inside its outer part.
    cors = (
        functools.partial(
            ProblemCORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Stockroom-Device",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
                "Last-Event-ID",
            ],
            # Browsers hide every other response header from scripts.
            expose_headers=[
                "X-Request-ID",
                "ETag",
                "Location",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Idempotent-Replayed",
            ],
        )
        if settings.http.cors_origins
        else None
    )
    app.add_middleware(
        RequestMiddleware,
        hsts=not settings.is_development,
        limits=CallerLimits(
            user=Limit.parse("default", settings.http.rate_limit_default),
            client=Limit.parse("client", settings.http.rate_limit_client_default),
        ),
        max_body_bytes=settings.http.max_body_bytes,
        cors=cors,
    )

    install_exception_handlers(app)
    app.add_exception_handler(Exception, last_resort_handler(hsts=not settings.is_development))
    install_openapi(app)
    app.include_router(docs.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(problem_types.router)
    # Operators may want an API-only deployment: CONSOLE_ENABLED=false serves no console.
    if settings.http.console_enabled:
        app.include_router(console.router)
    for router in v1_routers:
        app.include_router(router)
    return app
