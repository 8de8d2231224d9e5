"""The settings: the core ones every part uses, and one group per concern (src/config/groups).

Each setting is read from its own flat environment variable (SSE_MAX_STREAMS), as before
the groups existed (src/config/sources.py); code reads it grouped, settings.feed.sse_max_streams.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from src.config.groups import (
    MIN_HASH_MEMORY_KIB,
    MIN_HASH_TIME_COST,
    AuthSettings,
    DatabaseSettings,
    FeedSettings,
    HttpSettings,
    JobSettings,
    WebhookSettings,
)
from src.config.parsing import TextList
from src.config.secret_keys import secret_key_problem
from src.config.sources import FlatVariables, into_groups


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message is one line meant for the operator."""


class Settings(BaseSettings):
    # extra="ignore": a variable the service no longer reads (or never did) is no error,
    # so removing a setting never stops a deployment that still sets it.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="`development`, `staging` or `production`; any but development requires "
        "`DATABASE_URL` and a strong `SECRET_KEY` (the service refuses to start without them)",
    )
    secret_key: str | None = Field(
        default=None,
        repr=False,
        description="token signing key, ≥ 32 characters, random (a value with words such as "
        "`secret`, `change` or `example` is refused as a placeholder); required outside "
        "development and by docker compose. In development one is generated once and kept "
        "in the data dir. "
        'Generate one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`',
        json_schema_extra={"shown_default": "*(generated)*", "example_line": "SECRET_KEY="},
    )
    # Keys in SECRET_KEY_PREVIOUS still verify tokens, so the signing key can be rotated
    # without logging everyone out.
    secret_key_previous: TextList = Field(
        default_factory=list,
        repr=False,
        description="old keys that still verify tokens and cursors (feed positions, page "
        "cursors) during a rotation, and still decrypt webhook secrets sealed under them "
        "(comma-separated or a JSON list). Rotate by moving the old key here, setting a new "
        "`SECRET_KEY` and running `stockroom reseal-webhook-secrets`; keep a key here until "
        "the reseal reports nothing unreadable (see [Webhooks](#webhooks)), and at least "
        "`EVENTS_RETENTION_DAYS`, the age a stored feed position can reach",
        json_schema_extra={"shown_default": "none"},
    )
    log_level: str = Field(
        default="INFO", description="`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`"
    )
    log_format: LogFormat | None = Field(
        default=None,
        description="`console` or `json`",
        json_schema_extra={"shown_default": "`console` in development, else `json`"},
    )
    redis_url: str | None = Field(
        default=None,
        description="when set, Redis is checked by readiness and shared by rate limits",
        json_schema_extra={"shown_default": "none", "example": "redis://localhost:6379/0"},
    )
    # Starts every key Stockroom writes to Redis (the rate limits' counts), so that
    # deployments, or test runs side by side, can share one Redis without sharing counts.
    # The default is the `limits` library's own, which keeps existing counts.
    redis_key_prefix: str = Field(
        default="LIMITS",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="starts every key written to Redis (the rate limits' counts): "
        "deployments, or test workers, sharing one Redis keep their counts apart",
    )
    stockroom_data_dir: Path = Field(
        default=Path("./.stockroom"),
        description="embedded PostgreSQL data, development secret, lock file",
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The built-in sources still find the variables (case rules, `.env` parsing);
        # FlatVariables maps them onto the fields, groups included. Same order as before:
        # arguments, then the environment, then `.env`.
        assert isinstance(env_settings, EnvSettingsSource)  # noqa: S101 - pydantic's contract
        assert isinstance(dotenv_settings, EnvSettingsSource)  # noqa: S101
        return (
            init_settings,
            FlatVariables(settings_cls, env_settings.env_vars),
            FlatVariables(settings_cls, dotenv_settings.env_vars),
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, values: Any) -> Any:
        return into_groups(cls, values) if isinstance(values, dict) else values

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _production_safety(self) -> Settings:
        if self.environment is Environment.DEVELOPMENT:
            return self
        if not self.database.database_url:
            raise ValueError(f"DATABASE_URL is required when ENVIRONMENT={self.environment}")
        problem = secret_key_problem(self.secret_key)
        if problem:
            raise ValueError(f"SECRET_KEY {problem} (ENVIRONMENT={self.environment})")
        if (
            self.auth.password_hash_memory_kib < MIN_HASH_MEMORY_KIB
            or self.auth.password_hash_time_cost < MIN_HASH_TIME_COST
        ):
            raise ValueError(
                f"PASSWORD_HASH_MEMORY_KIB must be at least {MIN_HASH_MEMORY_KIB} and "
                f"PASSWORD_HASH_TIME_COST at least {MIN_HASH_TIME_COST} "
                f"(ENVIRONMENT={self.environment})"
            )
        if self.webhooks.webhook_allow_private_targets:
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
        if self.auth.registration_open is None:
            return self.is_development
        return self.auth.registration_open

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.CONSOLE if self.is_development else LogFormat.JSON
