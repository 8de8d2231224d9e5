"""`stockroom worker` failing clearly (one `error:` line, exit 1) and which jobs `serve`
runs with BACKGROUND_JOBS on and off. Two real workers sharing the jobs:
test_worker_processes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from src.cli import app
from src.cli.worker import _work
from src.main import create_app
from tests.support.databases import TestServer
from tests.support.factories import add_expired_sessions, create_user
from tests.support.settings import TEST_SECRET_KEY, make_settings

runner = CliRunner()
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"
WORK = {"idempotency", "refresh_session", "event", "reservation", "webhook_delivery"}
GAUGES = {"event_feed_lag", "webhook_queue"}
# What a serving process's own requests noted (API clients' last use), whatever the settings.
SERVING = {"client_usage"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "ENVIRONMENT", "REDIS_URL", "BACKGROUND_JOBS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOCKROOM_DATA_DIR", str(tmp_path / "data"))


def one_error_line(output: str) -> str:
    assert output.count("\n") == 1, output
    assert output.startswith("error: "), output
    assert "Traceback" not in output
    return output


def test_worker_with_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "1")
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "cannot connect to the database at 127.0.0.1:1/nothing" in one_error_line(result.output)


def test_worker_with_a_bad_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("WEBHOOK_CONCURRENCY", "-1")
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "invalid settings: WEBHOOK_CONCURRENCY" in one_error_line(result.output)


def test_worker_refuses_a_schema_older_than_the_code(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    """It never migrates: the API (or `stockroom migrate`) owns that."""
    with pg_server.fresh_database("stockroom_worker") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
        result = runner.invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "run `stockroom migrate`" in one_error_line(result.output)


def running_jobs(besides: set[asyncio.Task[object]]) -> set[str]:
    """The jobs running now that were not running in `besides`: a session-wide app (the
    console's) runs its own jobs in the same event loop."""
    return {
        task.get_name().removeprefix("job:")
        for task in asyncio.all_tasks() - besides
        if task.get_name().startswith("job:")
    }


@pytest.mark.parametrize(
    ("background_jobs", "expected"),
    [(True, WORK | GAUGES | SERVING | {"webhook_worker"}), (False, GAUGES | SERVING)],
    ids=["jobs-on", "jobs-off"],
)
async def test_serve_runs_the_jobs_unless_they_are_off(
    own_database_url: str, tmp_path: Path, background_jobs: bool, expected: set[str]
) -> None:
    """Gauges stay: /metrics is served here either way; so does the flush of what this
    process's requests noted."""
    settings = make_settings(
        own_database_url,
        tmp_path,
        background_jobs=background_jobs,
        webhook_concurrency=1,
    )
    before = asyncio.all_tasks()
    async with LifespanManager(create_app(settings)):
        assert running_jobs(before) == expected
    assert running_jobs(before) == set()


async def expired_sessions(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM refresh_sessions WHERE expires_at < now()")
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_the_worker_runs_every_job_at_once_until_sigterm(
    own_database_url: str, tmp_path: Path
) -> None:
    """In this process, so that its jobs can be seen; the signal is a real SIGTERM (test
    subprocesses: test_worker_processes). A worker makes each job's first pass as it
    starts: the session purge, due hourly, has deleted the expired session long before."""
    engine = create_async_engine(own_database_url)
    async with engine.connect() as connection:
        await add_expired_sessions(connection, await create_user(connection), 1)
    await engine.dispose()
    settings = make_settings(own_database_url, tmp_path, webhook_concurrency=1)
    assert settings.jobs.refresh_session_purge_interval_seconds == 3600
    before = asyncio.all_tasks()
    worker = asyncio.create_task(_work(settings))
    async with asyncio.timeout(10):
        while running_jobs(before) != WORK | {"webhook_worker"} or await expired_sessions(
            own_database_url
        ):
            assert not worker.done()
            await asyncio.sleep(0.05)
    signal.raise_signal(signal.SIGTERM)
    await asyncio.wait_for(worker, timeout=10)
    assert running_jobs(before) == set()
