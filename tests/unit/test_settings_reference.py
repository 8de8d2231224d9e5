"""The settings' reference is generated: README's tables and `.env.example` must be what
`stockroom settings` prints, and the grouped settings must read the same flat variables a
deployment sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from src.cli import app
from src.config import Settings, load_settings
from src.config.reference import (
    README_END,
    README_START,
    env_example,
    readme_with_table,
    settings_markdown,
)
from src.config.sources import setting_fields

ROOT = Path(__file__).resolve().parents[2]


def test_readme_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_table(readme), (
        "README.md's settings table is stale: run `uv run stockroom settings --markdown` and "
        f"paste it between {README_START} and {README_END}"
    )


def test_env_example_is_current() -> None:
    assert (ROOT / ".env.example").read_text(encoding="utf-8") == env_example(), (
        ".env.example is stale: run `uv run stockroom settings --env > .env.example`"
    )


def test_every_setting_is_described() -> None:
    undescribed = [name for _, name, field in setting_fields(Settings) if not field.description]
    assert undescribed == []


def test_the_command_prints_both() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["settings", "--markdown"]).output == settings_markdown()
    assert runner.invoke(app, ["settings", "--env"]).output == env_example()
    neither = runner.invoke(app, ["settings"])
    assert neither.exit_code == 1
    assert "give one of --markdown or --env" in neither.output
    both = runner.invoke(app, ["settings", "--markdown", "--env"])
    assert both.exit_code == 1
    assert "give one of --markdown or --env" in both.output


# One variable of each group, with a value other than its default, as a deployment sets it.
DEPLOYMENT = {
    "ENVIRONMENT": ("environment", "staging"),
    "LOG_LEVEL": ("log_level", "WARNING"),
    "DATABASE_URL": ("database.database_url", "postgresql+asyncpg://app:pw@db:5432/stock"),
    "DB_POOL_SIZE": ("database.db_pool_size", 7),
    "CORS_ORIGINS": ("http.cors_origins", ["https://a.example", "https://b.example"]),
    "MAX_BODY_BYTES": ("http.max_body_bytes", 2048),
    "LOGIN_RATE_LIMIT_PER_CLIENT": ("auth.login_rate_limit_per_client", "7/minute"),
    "REGISTRATION_OPEN": ("auth.registration_open", True),
    "SSE_MAX_STREAMS": ("feed.sse_max_streams", 33),
    "EVENTS_RETENTION_DAYS": ("feed.events_retention_days", 2.5),
    "WEBHOOK_CONCURRENCY": ("webhooks.webhook_concurrency", 3),
    "WEBHOOK_RETRY_SCHEDULE_SECONDS": ("webhooks.webhook_retry_schedule_seconds", [1.0, 2.0]),
    "RESERVATION_SWEEP_SECONDS": ("jobs.reservation_sweep_seconds", 9.0),
    "WEBHOOK_PURGE_BATCH": ("jobs.webhook_purge_batch", 50),
}
WRITTEN = {
    "CORS_ORIGINS": "https://a.example,https://b.example",
    "REGISTRATION_OPEN": "true",
    "WEBHOOK_RETRY_SCHEDULE_SECONDS": "[1, 2]",
    "DATABASE_URL": "postgresql://app:pw@db:5432/stock",
}
KEY = "Zq7-4hT_9wLp2vRx8nKc3mYb6jDf5gHs1aEu"


def _read(settings: Settings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.fixture
def deployment_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name, (_path, value) in DEPLOYMENT.items():
        monkeypatch.setenv(name, WRITTEN.get(name, str(value)))
    monkeypatch.setenv("SECRET_KEY", KEY)


@pytest.mark.usefixtures("deployment_env")
def test_flat_variables_configure_every_group() -> None:
    settings = Settings(_env_file=None)
    for name, (path, value) in DEPLOYMENT.items():
        assert _read(settings, path) == value, name


@pytest.mark.usefixtures("deployment_env")
def test_env_file_and_lower_case_names_work_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SSE_MAX_STREAMS")
    monkeypatch.delenv("WEBHOOK_CONCURRENCY")
    env_file = tmp_path / ".env"
    env_file.write_text("sse_max_streams=44\nWEBHOOK_CONCURRENCY=5\nDB_POOL_SIZE=1\n")
    settings = Settings(_env_file=env_file)
    assert settings.feed.sse_max_streams == 44
    assert settings.webhooks.webhook_concurrency == 5
    assert settings.database.db_pool_size == 7  # the environment wins over the file


@pytest.mark.usefixtures("deployment_env")
def test_arguments_win_and_nested_or_unknown_variables_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pydantic-settings' own nested forms are not read: `DATABASE` is no setting, and a
    # removed or unknown variable never stops start-up.
    monkeypatch.setenv("DATABASE", "not json")
    monkeypatch.setenv("FEED__SSE_MAX_STREAMS", "99")
    monkeypatch.setenv("NO_SUCH_SETTING_ANY_MORE", "1")
    settings = load_settings(sse_max_streams=2, _env_file=None)
    assert settings.feed.sse_max_streams == 2
    assert settings.webhooks.webhook_concurrency == 3


def test_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSE_COALESCE_MS", "5000")
    with pytest.raises(ValueError, match=r"^invalid settings: SSE_COALESCE_MS: "):
        load_settings(_env_file=None)
