"""The suite's settings: one signing key, and the app's `Settings` as every test starts
from them (development, no Redis, the least password hashing cost)."""

from __future__ import annotations

from pathlib import Path

from src.config import Environment, Settings
from tests.support.factories import TEST_HASH_COST

TEST_SECRET_KEY = "k3Y-for-tests-only-9f8e7d6c5b4a3210zyxwvu"


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.DEVELOPMENT,
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "stockroom_data_dir": tmp_path / "data",
        "redis_url": None,
        "log_format": "console",
        # The general limit gets its own tests; elsewhere it must not interfere.
        "rate_limit_default": "100000/minute",
        "rate_limit_client_default": "100000/minute",
        # In-process apps deliver no webhooks: the webhook tests start the workers they watch.
        "webhook_concurrency": 0,
        "_env_file": None,
    }
    values.update(overrides)
    if values["environment"] in (Environment.DEVELOPMENT, "development"):
        # The least Argon2id cost (thousands of logins); other environments refuse it.
        values.setdefault("password_hash_memory_kib", TEST_HASH_COST[0])
        values.setdefault("password_hash_time_cost", TEST_HASH_COST[1])
    return Settings(**values)  # type: ignore[arg-type]
