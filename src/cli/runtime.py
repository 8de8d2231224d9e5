"""What the CLI commands do, apart from argument parsing."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from src.cli.embedded import EmbeddedPostgres, EmbeddedPostgresError
from src.config import Settings, SettingsError, load_settings
from src.core import http_protocol, migrations
from src.core.database import Database
from src.core.exceptions import Conflict, StalledFeed
from src.core.logging import configure_logging
from src.core.passwords import configure_hashing
from src.core.secretbox import SecretBox
from src.schemas.user import UserCreate
from src.services.feed_rebase import refuse_a_stalled_feed
from src.services.unit_of_work import UnitOfWork
from src.services.user import UserService
from src.services.webhook.endpoint import reseal_secrets


class CliError(Exception):
    """An expected failure, reported as one line."""


class _Stop(Exception):
    pass


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    # create-admin and seed-demo hash passwords at the configured cost, as the API does.
    configure_hashing(
        concurrency=settings.auth.password_hash_concurrency,
        max_wait_seconds=settings.auth.password_hash_max_wait_seconds,
        memory_kib=settings.auth.password_hash_memory_kib,
        time_cost=settings.auth.password_hash_time_cost,
    )
    return settings


@contextmanager
def database_session(*, join_running: bool = True) -> Iterator[str]:
    """Yield the database URL, starting the embedded server for the duration if needed.

    With `join_running`, a cluster that a running `stockroom serve` owns is used as it is (so
    `create-admin` works while the server runs); `serve` itself passes False, since a second
    server must not depend on a cluster whose owner may stop it."""
    settings = _settings()
    configure_logging(settings.log_level, settings.effective_log_format.value)
    if settings.database.database_url:
        yield settings.database.database_url
        return
    embedded = EmbeddedPostgres(settings.stockroom_data_dir)
    shared = embedded.running_url() if join_running else None
    if shared:
        yield shared  # `stockroom serve` is running on this data dir: use its cluster
        return
    try:
        url = embedded.start()
    except EmbeddedPostgresError as exc:
        raise CliError(str(exc)) from None
    try:
        yield url
    finally:
        embedded.stop()


def _describe(url: str) -> str:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}/{parsed.database}"


async def _ping(url: str, connect_timeout: float) -> None:
    engine = create_async_engine(url, connect_args={"timeout": connect_timeout})
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def check_database(url: str, timeout: float = 5.0) -> None:
    try:
        asyncio.run(_ping(url, timeout))
    except Exception as exc:
        raise CliError(
            f"cannot connect to the database at {_describe(url)} ({type(exc).__name__})"
        ) from None


def check_feed(url: str) -> None:
    """Refuse to serve a log whose events could never become visible."""
    try:
        asyncio.run(_check_feed(url))
    except StalledFeed as exc:
        raise CliError(str(exc)) from None


async def _check_feed(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await refuse_a_stalled_feed(AsyncSession(connection))
    finally:
        await engine.dispose()


def run_migrations(url: str) -> None:
    check_database(url)
    try:
        migrations.upgrade(url)
    except Exception as exc:
        raise CliError(f"migration failed: {type(exc).__name__}: {exc}") from None


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"port {port} on {host} is already in use") from None
            raise CliError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


@contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    """Give the workers a shared directory for Prometheus samples (unless one is set)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="stockroom-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGINT end the block quietly, unwinding through what it entered (an
    embedded cluster it started stops); the previous handlers come back after."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_server(*, host: str, port: int, workers: int, reload: bool, migrate: bool) -> None:
    check_port_free(host, port)
    # uvicorn handles SIGINT/SIGTERM while serving and re-raises them once it has shut down
    # gracefully; turning them into an exception lets the embedded server stop afterwards.
    settings = _settings()
    with (
        stopped_by_signals(),
        contextlib.ExitStack() as stack,
        database_session(join_running=False) as url,
    ):
        if migrate:
            run_migrations(url)
        else:
            check_database(url)
        check_feed(url)
        # Workers are separate processes that build their settings from the environment.
        os.environ["DATABASE_URL"] = url
        if workers > 1 and not reload:
            stack.enter_context(_multiprocess_metrics())
        uvicorn.run(
            "src.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers if not reload else None,
            reload=reload,
            log_config=None,
            access_log=False,
            # X-Forwarded-For is believed only from the configured proxies.
            proxy_headers=bool(settings.http.forwarded_allow_ips),
            forwarded_allow_ips=settings.http.forwarded_allow_ips or None,
            server_header=False,
            timeout_graceful_shutdown=30,
            # httptools with a header size limit and deadlines for receiving each
            # request (src/core/http_protocol.py).
            http=http_protocol.PROTOCOL,
            # No WebSocket routes: an Upgrade request is served as plain HTTP.
            ws="none",
        )


def ensure_admin(*, email: str, password: str, full_name: str) -> tuple[str, bool]:
    """Validate like the API does, migrate, then create or promote: (email, created)."""
    try:
        data = UserCreate(email=email, password=password, full_name=full_name)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise CliError(f"invalid admin: {reasons}") from None
    with database_session() as url:
        run_migrations(url)
        return asyncio.run(_ensure_admin(url, data))


async def _ensure_admin(url: str, data: UserCreate) -> tuple[str, bool]:
    database = Database(create_async_engine(url))
    try:
        async with database.session_factory() as session:
            work = UnitOfWork(session)  # its audit entries are written at the commit
            user, created = await UserService(work).ensure_admin(
                email=str(data.email), password=data.password, full_name=data.full_name
            )
            await work.commit()
    except Conflict as exc:  # a look-alike of another account's address
        raise CliError(f"invalid admin: {exc.detail}") from None
    finally:
        await database.dispose()
    return user.email, created


def reseal_webhook_secrets() -> tuple[int, int]:
    """Seal the stored webhook secrets under the current SECRET_KEY: (resealed, unreadable)."""
    settings = _settings()
    box = SecretBox(settings.secret_key or "", settings.secret_key_previous)
    with database_session() as url:
        run_migrations(url)
        return asyncio.run(_reseal(url, box))


async def _reseal(url: str, box: SecretBox) -> tuple[int, int]:
    database = Database(create_async_engine(url))
    try:
        async with database.session_factory() as session, session.begin():
            return await reseal_secrets(session, box)
    finally:
        await database.dispose()
