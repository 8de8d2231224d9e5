"""What the benchmark stands up and tears down: a PostgreSQL server with a scratch database,
seeded data, a user, and the two servers under test (each a process group of its own)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from src.config import normalize_database_url
from src.core.cursors import CursorCodec
from src.core.emails import email_skeleton
from src.core.ids import new_id
from src.core.notifications import asyncpg_dsn
from src.core.passwords import hash_password
from src.repositories.event.position import Position
from src.services.feed import encode_position

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCH_EMAIL = "bench-manager@stockroom.invalid"
# The admin who creates the API client of the `client-token` scenario through the API.
BENCH_ADMIN_EMAIL = "bench-admin@stockroom.invalid"
# What that client may do: the user-token scenarios' reads and postings, no more.
BENCH_CLIENT_SCOPES = ["catalog:read", "stock:read", "stock:write"]
BENCH_PASSWORD = "bench-" + uuid.uuid4().hex  # fresh per run; the database is thrown away
# Open streams per viewer in the "with streams" scenarios (SSE_MAX_STREAMS_PER_USER), and
# enough viewers for the most streams a scenario opens.
STREAMS_PER_USER = 50
STREAM_EMAILS = [f"bench-viewer-{n}@stockroom.invalid" for n in range(4)]


# ---------------------------------------------------------------- PostgreSQL


async def _execute(url: str, sql: str, *args: Any) -> str:
    dsn, kwargs = asyncpg_dsn(url)
    connection = await asyncpg.connect(dsn, **kwargs)
    try:
        return str(await connection.execute(sql, *args))
    finally:
        await connection.close()


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    dsn, kwargs = asyncpg_dsn(url)
    connection = await asyncpg.connect(dsn, **kwargs)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


@contextlib.contextmanager
def postgres_server(database_url: str | None) -> Iterator[str]:
    """An admin URL: the given server's, or a throwaway embedded cluster's (deleted after)."""
    if database_url:
        yield normalize_database_url(database_url)
        return
    from src.cli.embedded import ThrowawayPostgres

    embedded = ThrowawayPostgres()
    try:
        embedded.start()
        yield embedded.url("postgres")
    finally:
        embedded.stop()


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server, dropped (sessions and all) afterwards."""
    name = f"stockroom_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_execute(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            asyncio.run(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"warning: could not drop the database {name}: {exc}", file=sys.stderr)


async def create_manager(url: str) -> None:
    """The manager the load logs in as; SystemExit, naming the account in the way, when its
    address (or one that reads like it: the same skeleton) is taken."""
    hashed = await hash_password(BENCH_PASSWORD)
    try:
        await _execute(
            url,
            "INSERT INTO users (id, email, email_skeleton, hashed_password, full_name, role,"
            " is_active) VALUES ($1, $2, $3, $4, 'Bench Manager', 'manager', true)",
            new_id(),
            BENCH_EMAIL,
            email_skeleton(BENCH_EMAIL),
            hashed,
        )
    except asyncpg.UniqueViolationError as exc:
        raise SystemExit(
            f"cannot create the bench manager {BENCH_EMAIL}: an account with this address or"
            f" one that reads like it exists ({exc.constraint_name})"
        ) from None
    # Viewers who hold the open streams of the "with streams" scenarios (a user may hold at
    # most STREAMS_PER_USER at once), and the admin who creates the bench's API client.
    others = [(email, "Bench Viewer", "viewer") for email in STREAM_EMAILS]
    for email, name, role in [*others, (BENCH_ADMIN_EMAIL, "Bench Admin", "admin")]:
        await _execute(
            url,
            "INSERT INTO users (id, email, email_skeleton, hashed_password, full_name, role,"
            " is_active) VALUES ($1, $2, $3, $4, $5, $6, true)",
            new_id(),
            email,
            email_skeleton(email),
            hashed,
            name,
            role,
        )


# `movement.created` for every seeded movement (seed-demo writes the ledger, not the log):
# the payload `MovementRead` gives, built in SQL, in one transaction per batch.
EVENTS_BATCH = 50_000
SEED_EVENTS = """
WITH batch AS (
    SELECT * FROM stock_movements WHERE id > $1 ORDER BY id LIMIT $2
), added AS (
    INSERT INTO events (type, data, movement_id, actor)
    SELECT 'movement.created', jsonb_build_object(
        'id', id, 'product_id', product_id, 'location_id', location_id, 'kind', kind,
        'quantity', quantity, 'balance_after', balance_after, 'reason', reason,
        'reference', reference, 'note', note, 'transfer_id', transfer_id,
        'count_id', count_id, 'reservation_id', reservation_id, 'shipment_id', shipment_id,
        'batch_id', batch_id, 'created_by', created_by, 'actor', actor,
        'request_id', request_id, 'created_at', created_at), id, actor
    FROM batch ORDER BY id
    RETURNING movement_id
)
SELECT count(*) AS n, max(movement_id::text)::uuid AS last FROM added
"""
# Evenly spaced positions over the first 90% of the log: deep starts with full pages after.
FEED_STARTS = """
SELECT xid::text::bigint AS xid, seq FROM (
    SELECT xid, seq, row_number() OVER (ORDER BY xid, seq) AS n, count(*) OVER () AS total
    FROM events
) ranked WHERE n % $1 = 0 AND n <= total * 0.9 ORDER BY xid, seq
"""


async def seed_events(url: str) -> int:
    """Append the seeded movements' events to the feed's log (50,000 per transaction, so
    the log spans several transaction ids as real traffic's does); how many."""
    dsn, kwargs = asyncpg_dsn(url)
    connection = await asyncpg.connect(dsn, **kwargs)
    try:
        total, last = 0, uuid.UUID(int=0)
        while True:
            batch = await connection.fetchrow(SEED_EVENTS, last, EVENTS_BATCH)
            if not batch["n"]:
                break
            total, last = total + batch["n"], batch["last"]
        await connection.execute("ANALYZE events")
        return total
    finally:
        await connection.close()


@dataclass(frozen=True)
class Dataset:
    product_ids: list[str]
    levels: list[tuple[str, str]]  # (product_id, location_id) pairs that exist
    deep_product: str  # the product with the most movements
    deep_movements: int
    movements: int
    events: int
    feed_starts: list[str]  # event ids spread over the log, signed as the servers sign them
    postgres_version: str


async def dataset(url: str, secret_key: str, starts: int = 1000) -> Dataset:
    products = await fetch(url, "SELECT id FROM products ORDER BY id")
    levels = await fetch(url, "SELECT product_id, location_id FROM stock_levels ORDER BY 1, 2")
    deep = await fetch(
        url,
        "SELECT product_id, count(*) AS n FROM stock_movements GROUP BY product_id"
        " ORDER BY n DESC LIMIT 1",
    )
    total = await fetch(url, "SELECT count(*) AS n FROM stock_movements")
    events = int((await fetch(url, "SELECT count(*) AS n FROM events"))[0]["n"])
    positions = await fetch(url, FEED_STARTS, max(1, events // starts))
    codec = CursorCodec(secret_key)
    version = await fetch(url, "SHOW server_version")
    return Dataset(
        product_ids=[str(r["id"]) for r in products],
        levels=[(str(r["product_id"]), str(r["location_id"])) for r in levels],
        deep_product=str(deep[0]["product_id"]),
        deep_movements=int(deep[0]["n"]),
        movements=int(total[0]["n"]),
        events=events,
        feed_starts=[encode_position(codec, Position(r["xid"], r["seq"])) for r in positions],
        postgres_version=str(version[0]["server_version"]),
    )


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_env(database_url: str, secret_key: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "TEST_DATABASE_URL"}}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        STOCKROOM_DATA_DIR=str(workdir / "data"),
        PYTHONPATH=str(PROJECT_ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(args: list[str], env: dict[str, str], workdir: Path, log: Path) -> str:
    """Run `stockroom ARGS` to completion; its last output line (stderr goes to `log`)."""
    with log.open("ab") as err:
        done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "src.cli", *args],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=err,
            check=False,
            start_new_session=True,  # Ctrl-C reaches us only; we clean up in order
        )
    out = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0:
        raise RuntimeError(f"stockroom {args[0]} failed (exit {done.returncode}); see {log}")
    return out.splitlines()[-1] if out else ""


class Server:
    """A server process group under test; stop() ends the group it started, nothing else."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None

    def start(self, workdir: Path) -> None:
        self.log = workdir / f"{self.name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
                self.command,
                env=self.env,
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, path: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready within {timeout:.0f}s; see {self.log}")

    def stop(self, timeout: float = 30.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stockroom_server(
    port: int, workers: int, env: dict[str, str], *, rate_limit: str, log_level: str, pool: int
) -> Server:
    env = {
        **env,
        # As many connections kept open as the reference's pool: with overflow, connections
        # past DB_POOL_SIZE are closed on return, so sustained load above it reconnects (and
        # prepares every statement again) on most requests.
        "DB_POOL_SIZE": str(pool),
        "DB_MAX_OVERFLOW": "0",
        "ENVIRONMENT": "production",
        "LOG_LEVEL": log_level,
        "RATE_LIMIT_DEFAULT": rate_limit,
        "RATE_LIMIT_CLIENT_DEFAULT": rate_limit,
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": rate_limit,
        "LOGIN_RATE_LIMIT_PER_CLIENT": rate_limit,
        "SSE_MAX_STREAMS_PER_USER": str(STREAMS_PER_USER),
    }
    command = [sys.executable, "-m", "src.cli", "serve", "--no-migrate"]
    command += ["--port", str(port), "--workers", str(workers)]
    return Server("stockroom", command, env, port)


def reference_server(port: int, workers: int, env: dict[str, str], pool_size: int) -> Server:
    env = {**env, "REFERENCE_POOL_SIZE": str(pool_size)}
    command = [sys.executable, "-m", "uvicorn", "bench.reference:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    command += ["--log-level", "warning", "--no-server-header"]
    return Server("reference", command, env, port)


def _call(request: urllib.request.Request, what: str) -> Any:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{what} failed: {exc.code} {exc.read()[:200]!r}") from None


def _token_request(port: int, fields: dict[str, str]) -> urllib.request.Request:
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/token", data=body, method="POST"
    )
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    return request


def login(port: int, email: str = BENCH_EMAIL) -> str:
    """An access token for a bench user (the manager by default), through the real token
    endpoint."""
    fields = {"grant_type": "password", "username": email, "password": BENCH_PASSWORD}
    return str(_call(_token_request(port, fields), "login")["access_token"])


def client_login(port: int, rate_limit: str) -> str:
    """An access token for a new API client: the bench admin creates it through the API
    (its own rate limit as high as the users'), then it asks for a token with the client
    credentials grant (HTTP Basic), as a system would."""
    admin = login(port, BENCH_ADMIN_EMAIL)
    body = {"name": "Bench client", "scopes": BENCH_CLIENT_SCOPES, "rate_limit": rate_limit}
    create = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/clients",
        data=json.dumps(body).encode(),
        method="POST",
    )
    create.add_header("Content-Type", "application/json")
    create.add_header("Authorization", f"Bearer {admin}")
    client = _call(create, "creating the API client")
    request = _token_request(port, {"grant_type": "client_credentials"})
    basic = f"{client['client_id']}:{client['client_secret']}".encode()
    request.add_header("Authorization", "Basic " + base64.b64encode(basic).decode())
    return str(_call(request, "the client credentials grant")["access_token"])
