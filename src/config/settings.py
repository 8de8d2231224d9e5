"""The settings themselves: every variable, its default, its bounds and why it exists."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from src.config.secret_keys import secret_key_problem

# OWASP's least Argon2id cost outside development (19 MiB of memory, 2 passes).
MIN_HASH_MEMORY_KIB = 19 * 1024
MIN_HASH_TIME_COST = 2


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message is one line meant for the operator."""


def normalize_database_url(url: str) -> str:
    """Accept the usual `postgres://` and `postgresql://` forms and pin the asyncpg driver."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    log_level: str = "INFO"
    log_format: LogFormat | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The web console at /console (src/console, served by src/api/console.py). On by default;
    # operators may want an API-only deployment (no HTML served at all), so it can be turned off.
    console_enabled: bool = True
    redis_url: str | None = None
    # Starts every key Stockroom writes to Redis (the rate limits' counts), so that
    # deployments, or test runs side by side, can share one Redis without sharing counts.
    # The default is the `limits` library's own, which keeps existing counts.
    redis_key_prefix: str = Field(default="LIMITS", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    stockroom_data_dir: Path = Path("./.stockroom")

    db_pool_size: int = Field(default=10, ge=1, le=100)
    db_max_overflow: int = Field(default=10, ge=0, le=100)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    # Pooled connections are replaced after this long, before idle-connection timeouts of
    # firewalls, proxies and managed servers cut them (there is no pre-ping).
    db_pool_recycle_seconds: int = Field(default=1800, ge=60)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    # A session left idle inside a transaction is ended after this long (0: never). Any open
    # writing transaction holds the change feed back, so a forgotten one must not last.
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)
    # Statements slower than this log a warning naming the repository operation (never the
    # SQL or its parameters); 0 logs every statement.
    db_slow_query_ms: int = Field(default=200, ge=0)
    # DATABASE_URL points at PgBouncer in transaction mode: no client-side pool, unique
    # prepared-statement names (SQLAlchemy's asyncpg notes). LISTEN needs a session, so live
    # events then use DATABASE_LISTEN_URL (PostgreSQL directly) when it is set.
    db_pgbouncer: bool = False
    database_listen_url: str | None = None

    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Slow and huge requests (`stockroom serve`): the request line and headers may take this
    # many bytes (431 beyond), must arrive within the header timeout from their first byte,
    # and the body within the body timeout after them (408 and the connection closed).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    request_header_timeout_seconds: float = Field(default=10, gt=0, le=300)
    request_body_timeout_seconds: float = Field(default=30, gt=0, le=3600)
    # Live events: concurrent SSE streams one user may hold (per process), all users' streams
    # one process holds (each costs a socket and a bounded mailbox; 503 beyond), and how often
    # an idle stream sends a heartbeat comment.
    sse_max_streams_per_user: int = Field(default=5, ge=1, le=100)
    sse_max_streams: int = Field(default=1000, ge=1, le=100_000)
    sse_heartbeat_seconds: float = Field(default=15, gt=0, le=15)
    # Milliseconds the process's one log reader lets commits gather after a wake-up before it
    # reads: a burst of postings becomes one read and one send per stream instead of one per
    # posting (what 200 open streams cost a posting), at that much more live latency. 0: none.
    sse_coalesce_ms: int = Field(default=20, ge=0, le=1000)
    # Stream tickets (`?ticket=`, for browsers' EventSource): how long one stays valid and
    # reusable (never past the access token that minted it), and how often an open stream
    # re-checks that its user is active and its session live (one query; it ends otherwise,
    # and at the latest when its access token expires).
    stream_ticket_ttl_seconds: int = Field(default=60, ge=1, le=3600)
    stream_auth_recheck_seconds: float = Field(default=15, gt=0, le=300)
    # Idempotency records are kept 24 h; this is how often expired ones are deleted.
    idempotency_purge_interval_seconds: float = Field(default=600, gt=0)
    # The change feed (GET /events): events are kept this many days (fractions allowed), and
    # older ones deleted this often; an `after` before the deleted ones is a 410. The feed's
    # lag (stockroom_event_feed_lag_seconds) is measured this often.
    events_retention_days: float = Field(default=30, gt=0)
    events_purge_interval_seconds: float = Field(default=3600, gt=0)
    events_lag_interval_seconds: float = Field(default=5, gt=0)
    # Streams read the log when a NOTIFY wakes them, and each process checks this often
    # (one query) whether events held back by an older transaction became visible: such an
    # event reaches the streams within this time of becoming visible.
    events_poll_seconds: float = Field(default=1.5, gt=0, le=60)
    # Reservations past their expiry stop holding stock; this often they are marked
    # expired (with their events) and what they held is freed.
    reservation_sweep_seconds: float = Field(default=5, gt=0, le=3600)
    # Background jobs drain in batches, each its own short transaction (a long one holds the
    # feed back), until nothing is due: levels per sweep batch, finished webhook
    # deliveries deleted per purge batch.
    reservation_sweep_batch: int = Field(default=100, ge=1, le=10_000)
    webhook_purge_batch: int = Field(default=10_000, ge=1, le=100_000)
    # Webhooks. An attempt (resolving, connecting, sending, reading at most
    # WEBHOOK_MAX_RESPONSE_BYTES of the answer) is cut after the timeout; a failed delivery
    # is retried after each of the schedule's delays in turn (with jitter), then failed.
    webhook_timeout_seconds: float = Field(default=15, gt=0, le=120)
    webhook_retry_schedule_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0, le=16 * 1024 * 1024)
    # An endpoint without one success for this long is disabled.
    webhook_disable_after_days: float = Field(default=5, gt=0)
    # After a secret rotation, deliveries are signed with the old secret too for this long.
    webhook_secret_overlap_hours: float = Field(default=24, ge=0, le=24 * 30)
    # Endpoints that may exist at once (each is dispatched and polled): beyond, 409.
    webhook_max_endpoints: int = Field(default=100, ge=1, le=10_000)
    # Threads resolving webhook hosts (their own pool: a DNS server that never answers holds
    # only these, never the hashing threads; above the per-endpoint concurrency, so one such
    # receiver leaves lookups for the others).
    webhook_dns_threads: int = Field(default=16, ge=1, le=64)
    # Targets on loopback, private or link-local addresses (development and tests only).
    webhook_allow_private_targets: bool = False
    # Attempts one process runs at once (0: this process delivers nothing), and how often
    # it looks for new events and due deliveries.
    webhook_concurrency: int = Field(default=10, ge=0, le=200)
    # Attempts running at once for one endpoint (across processes): a slow receiver then
    # holds at most this many workers.
    webhook_concurrency_per_endpoint: int = Field(default=4, ge=1, le=200)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    # Auth. Keys in SECRET_KEY_PREVIOUS still verify tokens, so the signing key can be
    # rotated without logging everyone out.
    secret_key_previous: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=14 * 86_400, ge=300)
    # Two tabs refreshing with one token at once (or a retry after a lost response): within
    # this window a replay of the token just replaced gets the same successor back; 0 = off.
    refresh_reuse_grace_seconds: float = Field(default=30, ge=0, le=300)
    # How often refresh sessions past their family's expiry are deleted.
    refresh_session_purge_interval_seconds: float = Field(default=3600, gt=0)
    jwt_issuer: str = "stockroom"
    jwt_audience: str = "stockroom-api"
    # Self-service sign-up (POST /auth/register). Unset: open in development only.
    registration_open: bool | None = None
    # Every /api/v1 request, per authenticated user (or per client address when anonymous).
    rate_limit_default: str = "600/minute"
    # Password checks (login, password change) per account *and* client address: the tight
    # limit, which guesses from other addresses can never use up.
    login_rate_limit_per_account: str = "5/minute"
    login_rate_limit_per_client: str = "20/minute"
    # Login attempts on one account from addresses it has not logged in from recently,
    # across all of them: bounds guessing spread over many addresses. Once it is spent,
    # only addresses with a successful login in the last LOGIN_KNOWN_CLIENT_SECONDS get in.
    login_rate_limit_per_account_all_clients: str = "50/hour"
    login_known_client_seconds: int = Field(default=30 * 86_400, ge=1)
    # A login's device token exempts its device from the limit above (OWASP device cookies).
    device_token_ttl_seconds: int = Field(default=90 * 86_400, ge=1)
    # Logins one device token may make over a long window: a stolen one is no lasting bypass
    # (once spent, it counts as no token, so the account-wide limit applies again).
    login_rate_limit_per_device: str = "20/day"
    # Argon2 hashes computed at once in this process (each takes ~0.1 s of CPU and 64 MiB),
    # and how long a request waits for its turn before a 429 with Retry-After.
    password_hash_concurrency: int = Field(default=4, ge=1, le=64)
    password_hash_max_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    # Argon2id's cost for new hashes (pwdlib's recommendation by default). Below OWASP's
    # minimum (19 MiB, 2 passes) only in development: the test suite logs in thousands of
    # times. A stored hash is verified with its own cost and rehashed at the next login.
    password_hash_memory_kib: int = Field(default=65536, ge=32, le=4 * 1024 * 1024)
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs/CIDRs, or *). Empty:
    # the client address is the socket's peer, which a client cannot forge.
    forwarded_allow_ips: str = ""

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator(
        "rate_limit_default",
        "login_rate_limit_per_account",
        "login_rate_limit_per_client",
        "login_rate_limit_per_account_all_clients",
        "login_rate_limit_per_device",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError("must look like '5/minute' or '100 per hour'") from None
        return value

    @field_validator("webhook_retry_schedule_seconds", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        # "5,300,1800" as well as a JSON list.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _schedule_values(cls, value: list[float]) -> list[float]:
        if not value or len(value) > 20 or any(not 0 < delay <= 86_400 for delay in value):
            raise ValueError("must be 1 to 20 delays in seconds, each above 0 and at most 86400")
        return value

    @field_validator("cors_origins", "secret_key_previous", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        # Operators write either a JSON list or "a,b,c"; accept both.
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("database_url", "database_listen_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = normalize_database_url(value.strip())
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a PostgreSQL URL (postgresql://user:pass@host:port/db)")
        return url

    @model_validator(mode="after")
    def _pgbouncer_needs_listen_url(self) -> Settings:
        # Through PgBouncer's transaction mode LISTEN never hears a NOTIFY: without a direct
        # URL the service would run with event streams that silently stay empty.
        if self.db_pgbouncer and not self.database_listen_url:
            raise ValueError(
                "DATABASE_LISTEN_URL is required when DB_PGBOUNCER=true "
                "(live events LISTEN on a direct PostgreSQL connection)"
            )
        return self

    @model_validator(mode="after")
    def _lookups_outlast_one_endpoint(self) -> Settings:
        # One receiver whose DNS never answers may hold as many lookup threads as it has
        # attempts running; with no more threads than that, every other endpoint would wait.
        if self.webhook_dns_threads <= self.webhook_concurrency_per_endpoint:
            raise ValueError(
                "WEBHOOK_DNS_THREADS must be above WEBHOOK_CONCURRENCY_PER_ENDPOINT "
                "(one receiver with a silent DNS server must leave lookups for the others)"
            )
        return self

    @model_validator(mode="after")
    def _production_safety(self) -> Settings:
        if self.environment is Environment.DEVELOPMENT:
            return self
        if not self.database_url:
            raise ValueError(f"DATABASE_URL is required when ENVIRONMENT={self.environment}")
        problem = secret_key_problem(self.secret_key)
        if problem:
            raise ValueError(f"SECRET_KEY {problem} (ENVIRONMENT={self.environment})")
        if (
            self.password_hash_memory_kib < MIN_HASH_MEMORY_KIB
            or self.password_hash_time_cost < MIN_HASH_TIME_COST
        ):
            raise ValueError(
                f"PASSWORD_HASH_MEMORY_KIB must be at least {MIN_HASH_MEMORY_KIB} and "
                f"PASSWORD_HASH_TIME_COST at least {MIN_HASH_TIME_COST} "
                f"(ENVIRONMENT={self.environment})"
            )
        if self.webhook_allow_private_targets:
            # It lets an admin's URL reach the server's own network (metadata, database).
            raise ValueError(
                "WEBHOOK_ALLOW_PRIVATE_TARGETS=true is for development and tests only "
                f"(ENVIRONMENT={self.environment})"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    @property
    def registration_is_open(self) -> bool:
        """REGISTRATION_OPEN, or when unset: open in development (to try the service out),
        closed elsewhere (admins create users)."""
        if self.registration_open is None:
            return self.is_development
        return self.registration_open

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.CONSOLE if self.is_development else LogFormat.JSON
