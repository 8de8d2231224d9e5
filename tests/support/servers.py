"""Real HTTP servers: inside the test's event loop (uvicorn), for what ASGITransport cannot
do (streaming responses such as Server-Sent Events), or as `stockroom serve` processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import ASGIApp

from tests.support.factories import TEST_HASH_COST

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """`app` with its lifespan running, and a client that calls it in-process (no socket:
    responses arrive whole, so not for streams; see `running`)."""
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def running(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` on loopback (`port`, or a free one); yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


@dataclass
class ServerProcess:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve_process(
    database_url: str,
    data_dir: Path,
    secret_key: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[ServerProcess]:
    """`stockroom serve --no-migrate` in a process of its own on a free port (or `port`, to
    restart a server where its clients expect it), yielded once it answers. On the way out a
    server still running gets SIGTERM and must exit cleanly; one the test stopped or killed
    itself is left to the test's own assertions."""
    port = port or free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "STOCKROOM_DATA_DIR": str(data_dir),
        # The suite's Argon2id cost, as in-process apps have (tests/conftest.py).
        "PASSWORD_HASH_MEMORY_KIB": str(TEST_HASH_COST[0]),
        "PASSWORD_HASH_TIME_COST": str(TEST_HASH_COST[1]),
        **(env or {}),
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "src.cli", "serve", "--port", str(port), "--no-migrate"]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [*command, *args], cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=output
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, f"the server exited:\n{server.output()}"
            assert time.monotonic() < deadline, f"the server did not start:\n{server.output()}"
            time.sleep(0.2)
        yield server
    finally:
        stop_process(process, server.output)


def stop_process(process: subprocess.Popen[bytes], output: Callable[[], str]) -> None:
    """SIGTERM, then the clean exit (status 0) a server or worker owes it within a minute;
    killed, and the test failed, when it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    assert code == 0, f"exit status {code}:\n{output()}"


@contextlib.asynccontextmanager
async def served(
    database_url: str,
    data_dir: Path,
    secret_key: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> AsyncIterator[ServerProcess]:
    """`serve_process` for async tests: starting and stopping happen off the event loop."""
    stack = contextlib.ExitStack()
    try:
        yield await asyncio.to_thread(
            stack.enter_context,
            serve_process(database_url, data_dir, secret_key, *args, env=env, port=port),
        )
    finally:
        await asyncio.to_thread(stack.close)
