"""Settings: parsing, production safety, and the development secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.config import (
    Environment,
    LogFormat,
    Settings,
    SettingsError,
    load_settings,
    normalize_database_url,
    secret_key_problem,
)
from src.core.database import build_engine

GOOD_KEY = "Zq7-4hT_9wLp2vRx8nKc3mYb6jDf5gHs1aEu"
DB = "postgresql://app:pw@db:5432/stockroom"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "DATABASE_URL",
        "SECRET_KEY",
        "ENVIRONMENT",
        "CORS_ORIGINS",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "REDIS_URL",
        "REDIS_KEY_PREFIX",
        "STOCKROOM_DATA_DIR",
        "DB_PGBOUNCER",
        "DATABASE_LISTEN_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read


def test_defaults_are_development() -> None:
    settings = Settings(_env_file=None)
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.effective_log_format is LogFormat.CONSOLE
    assert settings.database.database_url is None
    # The `limits` library's own prefix: counts kept in Redis survive the upgrade.
    assert settings.redis_key_prefix == "LIMITS"


@pytest.mark.parametrize("prefix", ["", "two words", "a/b", "a*"])
def test_a_redis_key_prefix_is_a_plain_word(prefix: str) -> None:
    with pytest.raises(SettingsError, match="REDIS_KEY_PREFIX"):
        load_settings(redis_key_prefix=prefix)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected
    assert Settings(database_url=given, _env_file=None).database.database_url == expected


def test_non_postgres_database_url_is_refused() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings(database_url="mysql://u@h/d", secret_key=GOOD_KEY)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["https://a.example", "https://b.example"]', ["https://a.example", "https://b.example"]),
        ("https://a.example, https://b.example", ["https://a.example", "https://b.example"]),
        ("", []),
    ],
)
def test_cors_origins_from_env(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert Settings(_env_file=None).http.cors_origins == expected


def test_bad_log_level_is_one_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(log_level="chatty")
    assert "\n" not in str(caught.value)
    assert "LOG_LEVEL" in str(caught.value)


def test_production_requires_database_url() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL is required"):
        load_settings(environment="production", secret_key=GOOD_KEY)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "is missing"),
        ("short-key", "shorter than 32"),
        ("change-me-change-me-change-me-change-me", "placeholder"),
        ("a" * 40, "placeholder"),
    ],
)
def test_production_refuses_unsafe_secret(key: str | None, reason: str) -> None:
    with pytest.raises(SettingsError, match=reason) as caught:
        load_settings(environment="staging", database_url=DB, secret_key=key)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_private_webhook_targets_are_refused_outside_development(environment: str) -> None:
    with pytest.raises(
        SettingsError, match="WEBHOOK_ALLOW_PRIVATE_TARGETS=true is for development"
    ):
        load_settings(
            environment=environment,
            database_url=DB,
            secret_key=GOOD_KEY,
            webhook_allow_private_targets=True,
        )
    assert load_settings(webhook_allow_private_targets=True).webhooks.webhook_allow_private_targets


@pytest.mark.parametrize(("memory", "passes"), [(19 * 1024 - 1, 2), (19 * 1024, 1), (64, 1)])
def test_a_password_hash_cost_below_owasp_is_refused_outside_development(
    memory: int, passes: int
) -> None:
    with pytest.raises(SettingsError, match="PASSWORD_HASH_MEMORY_KIB must be at least 19456"):
        load_settings(
            environment="production",
            database_url=DB,
            secret_key=GOOD_KEY,
            password_hash_memory_kib=memory,
            password_hash_time_cost=passes,
        )
    cheap = load_settings(password_hash_memory_kib=memory, password_hash_time_cost=passes)
    assert (cheap.auth.password_hash_memory_kib, cheap.auth.password_hash_time_cost) == (
        memory,
        passes,
    )
    least = load_settings(
        environment="production",
        database_url=DB,
        secret_key=GOOD_KEY,
        password_hash_memory_kib=19 * 1024,
        password_hash_time_cost=2,
    )
    assert least.auth.password_hash_memory_kib == 19 * 1024


@pytest.mark.parametrize(("memory", "passes"), [(31, 1), (64, 0), (64, 21)])
def test_a_password_hash_cost_out_of_bounds_is_refused(memory: int, passes: int) -> None:
    with pytest.raises(SettingsError, match="PASSWORD_HASH_"):
        load_settings(password_hash_memory_kib=memory, password_hash_time_cost=passes)


@pytest.mark.parametrize("schedule", ["", "0", "5,-1", ",".join(["1"] * 21), "[5, 90000]"])
def test_a_retry_schedule_out_of_bounds_is_refused(schedule: str) -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_RETRY_SCHEDULE_SECONDS: must be 1 to 20"):
        load_settings(webhook_retry_schedule_seconds=schedule)


def test_a_retry_schedule_reads_commas_or_json() -> None:
    assert load_settings(
        webhook_retry_schedule_seconds="5, 300"
    ).webhooks.webhook_retry_schedule_seconds == [5, 300]
    assert load_settings(
        webhook_retry_schedule_seconds="[0.5]"
    ).webhooks.webhook_retry_schedule_seconds == [0.5]


def test_production_accepts_safe_settings() -> None:
    settings = load_settings(environment="production", database_url=DB, secret_key=GOOD_KEY)
    assert settings.effective_log_format is LogFormat.JSON
    assert secret_key_problem(GOOD_KEY) is None
    assert GOOD_KEY not in repr(settings)


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_settings(stockroom_data_dir=data_dir)
    second = load_settings(stockroom_data_dir=data_dir)
    assert first.secret_key
    assert first.secret_key == second.secret_key
    assert secret_key_problem(first.secret_key) is None
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600


def test_explicit_development_secret_is_used(tmp_path: Path) -> None:
    settings = load_settings(stockroom_data_dir=tmp_path, secret_key=GOOD_KEY)
    assert settings.secret_key == GOOD_KEY
    assert not (tmp_path / "secret_key").exists()


def test_pool_recycle_reaches_the_engine_and_has_a_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_RECYCLE_SECONDS", "90")
    settings = load_settings(database_url=DB, secret_key=GOOD_KEY)
    assert build_engine(settings).pool._recycle == 90
    with pytest.raises(SettingsError, match="DB_POOL_RECYCLE_SECONDS"):
        load_settings(database_url=DB, secret_key=GOOD_KEY, db_pool_recycle_seconds=5)


@pytest.mark.parametrize(
    ("environment", "given", "expected"),
    [
        (Environment.DEVELOPMENT, None, True),
        (Environment.STAGING, None, False),
        (Environment.PRODUCTION, None, False),
        (Environment.PRODUCTION, True, True),
        (Environment.DEVELOPMENT, False, False),
    ],
)
def test_registration_is_open_by_default_only_in_development(
    environment: Environment, given: bool | None, expected: bool
) -> None:
    values: dict[str, object] = {"environment": environment, "database_url": DB}
    values["secret_key"] = GOOD_KEY
    if given is not None:
        values["registration_open"] = given
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    assert settings.registration_is_open is expected


def test_pgbouncer_without_listen_url_is_refused_in_one_line() -> None:
    """Live events need LISTEN, which PgBouncer's transaction mode cannot carry."""
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url=DB, secret_key=GOOD_KEY, db_pgbouncer=True)
    message = str(caught.value)
    assert "DATABASE_LISTEN_URL is required when DB_PGBOUNCER=true" in message
    assert "\n" not in message


def test_pgbouncer_without_listen_url_is_refused_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_PGBOUNCER", "true")
    monkeypatch.setenv("DATABASE_LISTEN_URL", "  ")  # blank counts as unset
    with pytest.raises(SettingsError, match="DATABASE_LISTEN_URL is required"):
        load_settings(database_url=DB, secret_key=GOOD_KEY, environment="production")


def test_pgbouncer_with_listen_url_is_accepted() -> None:
    settings = load_settings(
        database_url=DB,
        secret_key=GOOD_KEY,
        db_pgbouncer=True,
        database_listen_url="postgresql://app:pw@db-direct:5432/stockroom",
    )
    assert settings.database.db_pgbouncer is True
    assert (
        settings.database.database_listen_url
        == "postgresql+asyncpg://app:pw@db-direct:5432/stockroom"
    )
    assert load_settings(database_url=DB, secret_key=GOOD_KEY).database.database_listen_url is None


def test_request_limits_have_safe_defaults_and_bounds() -> None:
    settings = load_settings(database_url=DB, secret_key=GOOD_KEY)
    assert settings.http.max_header_bytes == 32 * 1024
    assert settings.http.request_header_timeout_seconds == 10
    assert settings.http.request_body_timeout_seconds == 30
    assert settings.database.db_slow_query_ms == 200
    with pytest.raises(SettingsError, match="MAX_HEADER_BYTES"):
        load_settings(database_url=DB, secret_key=GOOD_KEY, max_header_bytes=100)
    with pytest.raises(SettingsError, match="REQUEST_HEADER_TIMEOUT_SECONDS"):
        load_settings(database_url=DB, secret_key=GOOD_KEY, request_header_timeout_seconds=0)
    with pytest.raises(SettingsError, match="DB_SLOW_QUERY_MS"):
        load_settings(database_url=DB, secret_key=GOOD_KEY, db_slow_query_ms=-1)


@pytest.mark.parametrize(("threads", "per_endpoint"), [(4, 4), (2, 10), (1, 1)])
def test_dns_threads_not_above_the_per_endpoint_concurrency_are_refused_in_one_line(
    threads: int, per_endpoint: int
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(webhook_dns_threads=threads, webhook_concurrency_per_endpoint=per_endpoint)
    message = str(caught.value)
    assert "WEBHOOK_DNS_THREADS must be above WEBHOOK_CONCURRENCY_PER_ENDPOINT" in message
    assert "\n" not in message


def test_dns_threads_above_the_per_endpoint_concurrency_are_accepted() -> None:
    settings = load_settings(webhook_dns_threads=5, webhook_concurrency_per_endpoint=4)
    assert (
        settings.webhooks.webhook_dns_threads,
        settings.webhooks.webhook_concurrency_per_endpoint,
    ) == (5, 4)
    assert Settings(_env_file=None).webhooks.webhook_dns_threads == 16
