"""DATABASE_URL, the pool and the server-side timeouts."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator


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


class DatabaseSettings(BaseModel):
    database_url: str | None = Field(
        default=None,
        description="`postgresql://user:pass@host:5432/db` (`postgres://` too; URL-encode "
        "special characters); required outside development. Unset: the embedded PostgreSQL "
        "in `STOCKROOM_DATA_DIR` (development dependencies only)",
        json_schema_extra={
            "shown_default": "*(embedded)*",
            "example": "postgresql://stockroom:password@localhost:5432/stockroom",
        },
    )
    # DATABASE_URL points at PgBouncer in transaction mode: no client-side pool, unique
    # prepared-statement names (SQLAlchemy's asyncpg notes). LISTEN needs a session, so live
    # events then use DATABASE_LISTEN_URL (PostgreSQL directly) when it is set.
    db_pgbouncer: bool = Field(
        default=False,
        description="`true` when `DATABASE_URL` points at PgBouncer (transaction mode)",
    )
    database_listen_url: str | None = Field(
        default=None,
        description="direct PostgreSQL URL for `LISTEN` (live events); required with "
        "`DB_PGBOUNCER=true`",
        json_schema_extra={"shown_default": "`DATABASE_URL`"},
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=100,
        description="pooled connections per process; size the pool for the concurrency you sustain",
    )
    db_max_overflow: int = Field(
        default=10,
        ge=0,
        le=100,
        description="extra connections beyond the pool, closed when returned",
    )
    db_pool_timeout: float = Field(
        default=10.0, gt=0, description="seconds a request waits for a pooled connection"
    )
    # Pooled connections are replaced after this long, before idle-connection timeouts of
    # firewalls, proxies and managed servers cut them (there is no pre-ping).
    db_pool_recycle_seconds: int = Field(
        default=1800,
        ge=60,
        description="replace pooled connections before idle timeouts elsewhere cut them",
    )
    db_connect_timeout: float = Field(
        default=5.0, gt=0, description="seconds to open a connection to the database"
    )
    db_statement_timeout_ms: int = Field(
        default=30_000, ge=0, description="server-side statement timeout (0: none)"
    )
    # A session left idle inside a transaction is ended after this long (0: never). Any open
    # writing transaction holds the change feed back, so a forgotten one must not last.
    db_idle_in_transaction_timeout_ms: int = Field(
        default=60_000,
        ge=0,
        description="a session idle inside a transaction longer than this is ended, so it "
        "cannot hold the change feed back (behind PgBouncer, set it on the database role "
        "instead)",
    )
    # Statements slower than this log a warning naming the repository operation (never the
    # SQL or its parameters); 0 logs every statement.
    db_slow_query_ms: int = Field(
        default=200,
        ge=0,
        description="statements slower than this log a `slow_query` warning (operation and "
        "duration only; `0` logs every one)",
    )

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
    def _pgbouncer_needs_listen_url(self) -> DatabaseSettings:
        # Through PgBouncer's transaction mode LISTEN never hears a NOTIFY: without a direct
        # URL the service would run with event streams that silently stay empty.
        if self.db_pgbouncer and not self.database_listen_url:
            raise ValueError(
                "DATABASE_LISTEN_URL is required when DB_PGBOUNCER=true "
                "(live events LISTEN on a direct PostgreSQL connection)"
            )
        return self
