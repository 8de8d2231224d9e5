"""`stockroom worker` processes for the tests: started on a database, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import PROJECT_ROOT, stop_process


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """Its JSON log lines (LOG_FORMAT=json), parsed."""
        lines = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    lines.append(parsed)
        return lines


@contextlib.contextmanager
def worker_process(
    database_url: str, data_dir: Path, secret_key: str, *, env: Mapping[str, str] | None = None
) -> Iterator[WorkerProcess]:
    """`stockroom worker`, yielded once its jobs run. On the way out it gets SIGTERM and
    must stop cleanly (exit 0, `worker_stopped` logged)."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "STOCKROOM_DATA_DIR": str(data_dir),
        "LOG_FORMAT": "json",
        **(env or {}),
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "src.cli", "worker"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=output,
        )
    worker = WorkerProcess(process, log)
    try:
        deadline = time.monotonic() + 60
        while "worker_started" not in worker.output():
            assert process.poll() is None, f"the worker exited:\n{worker.output()}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{worker.output()}"
            time.sleep(0.1)
        yield worker
    finally:
        if process.poll() is None:
            stop_process(process, worker.output)
            assert "worker_stopped" in worker.output(), worker.output()


@contextlib.asynccontextmanager
async def working(
    database_url: str, data_dir: Path, secret_key: str, *, env: Mapping[str, str] | None = None
) -> AsyncIterator[WorkerProcess]:
    """`worker_process` for async tests: starting and stopping happen off the event loop."""
    stack = contextlib.ExitStack()
    try:
        yield await asyncio.to_thread(
            stack.enter_context, worker_process(database_url, data_dir, secret_key, env=env)
        )
    finally:
        await asyncio.to_thread(stack.close)
