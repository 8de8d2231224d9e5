"""The `stockroom` command: clear one-line failures, migrations, and the serve wiring."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_mock import MockerFixture
from typer.testing import CliRunner

from src import __version__
from src.cli import app
from tests.support.databases import TestServer
from tests.support.servers import free_port
from tests.support.settings import TEST_SECRET_KEY

runner = CliRunner()
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "ENVIRONMENT", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOCKROOM_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"stockroom {__version__}"


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output
    assert "migrate" in result.output


def test_unknown_option_fails() -> None:
    result = runner.invoke(app, ["serve", "--port", "99999"])
    assert result.exit_code != 0


def test_bad_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = runner.invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid settings: SECRET_KEY is missing")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_pgbouncer_without_listen_url_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("DB_PGBOUNCER", "true")
    monkeypatch.delenv("DATABASE_LISTEN_URL", raising=False)
    result = runner.invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid settings: DATABASE_LISTEN_URL is required")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_port_taken_is_one_line(monkeypatch: pytest.MonkeyPatch, busy_port: int) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = runner.invoke(app, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 1
    assert result.output == f"error: port {busy_port} on 127.0.0.1 is already in use\n"


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot connect to the database at 127.0.0.1:1/nothing")
    assert result.output.count("\n") == 1


def test_serve_unreachable_database_without_migrate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = runner.invoke(app, ["serve", "--port", str(free_port()), "--no-migrate"])
    assert result.exit_code == 1
    assert "cannot connect to the database" in result.output


def test_migrate_upgrades_a_fresh_database(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        first = runner.invoke(app, ["migrate"])
        again = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert "latest revision" in again.output


def test_serve_migrates_then_runs_uvicorn(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer, mocker: MockerFixture
) -> None:
    run = mocker.patch("src.cli.runtime.uvicorn.run")
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
        result = runner.invoke(app, ["serve", "--port", str(free_port()), "--workers", "2"])
    assert result.exit_code == 0, result.output
    kwargs = run.call_args.kwargs
    assert run.call_args.args == ("src.main:create_app",)
    assert kwargs["factory"] is True
    assert kwargs["workers"] == 2
    assert kwargs["log_config"] is None
    # The protocol that limits header size and request time (tests/integration/http/test_limits.py).
    assert kwargs["http"] == "src.core.http_protocol:GuardedHttpToolsProtocol"


def test_serve_stops_cleanly_on_signal(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer, mocker: MockerFixture
) -> None:
    import signal

    def interrupted(*_: object, **__: object) -> None:
        signal.raise_signal(signal.SIGTERM)  # as uvicorn does after a graceful shutdown

    mocker.patch("src.cli.runtime.uvicorn.run", side_effect=interrupted)
    before = signal.getsignal(signal.SIGTERM)
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = runner.invoke(app, ["serve", "--port", str(free_port()), "--no-migrate"])
    assert result.exit_code == 0, result.output
    assert signal.getsignal(signal.SIGTERM) is before


ADMIN_PASSWORD = "an-admin-passphrase-42"


def _role_of(url: str, email: str, column: str = "role") -> str | None:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            value = await connection.scalar(
                text(f"SELECT {column} FROM users WHERE lower(email) = lower(:e)"),  # noqa: S608
                {"e": email},
            )
        await engine.dispose()
        return value

    return asyncio.run(read())


def test_create_admin_creates_then_is_idempotent(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    monkeypatch.setenv("STOCKROOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        first = runner.invoke(app, ["create-admin", "Boss@Example.com"])
        again = runner.invoke(app, ["create-admin", "boss@example.com"])
        role = _role_of(url, "boss@example.com")
    assert first.exit_code == 0, first.output
    # Stored in its canonical form (NFKC, case-folded), like every address.
    assert "created admin boss@example.com" in first.output
    assert again.exit_code == 0, again.output
    assert "promoted admin" in again.output
    assert role == "admin"
    assert ADMIN_PASSWORD not in first.output + again.output


def test_create_admin_refuses_a_look_alike_of_an_account(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    monkeypatch.setenv("STOCKROOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        first = runner.invoke(app, ["create-admin", "modern@example.com"])
        twin = runner.invoke(app, ["create-admin", "rnodern@example.com"])
        kept = _role_of(url, "modern@example.com")
        refused = _role_of(url, "rnodern@example.com")
    assert first.exit_code == 0, first.output
    assert twin.exit_code == 1, twin.output
    assert "looks like an existing user's" in twin.output
    assert (kept, refused) == ("admin", None)


def test_create_admin_hashes_at_the_configured_cost(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    monkeypatch.setenv("STOCKROOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", "19456")
    monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "2")
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = runner.invoke(app, ["create-admin", "cost@example.com"])
        hashed = _role_of(url, "cost@example.com", column="hashed_password")
    assert result.exit_code == 0, result.output
    assert hashed is not None
    assert "$m=19456,t=2,p=4$" in hashed


def test_create_admin_prompts_without_echo(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    monkeypatch.delenv("STOCKROOM_ADMIN_PASSWORD", raising=False)
    with pg_server.fresh_database("stockroom_cli") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = runner.invoke(
            app, ["create-admin", "root@example.com"], input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n"
        )
        role = _role_of(url, "root@example.com")
    assert result.exit_code == 0, result.output
    assert ADMIN_PASSWORD not in result.output
    assert role == "admin"


def test_create_admin_promotes_an_existing_user(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    import asyncio

    from src.core import migrations
    from src.core.database import Database
    from src.models.refresh_session import RefreshSession
    from src.models.user import Role, User

    monkeypatch.setenv("STOCKROOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    with pg_server.fresh_database("stockroom_cli") as url:
        migrations.upgrade(url)

        async def seed() -> None:
            from sqlalchemy.ext.asyncio import create_async_engine

            database = Database(create_async_engine(url))
            async with database.session_factory() as session, session.begin():
                user = User(
                    email="clerk@example.com",
                    hashed_password="x",
                    full_name="C",
                    role=Role.CLERK,
                    is_active=False,
                )
                session.add(user)
                await session.flush()
                # A session left live by a deactivation made outside the API.
                session.add(
                    RefreshSession(
                        user_id=user.id,
                        family_id=uuid.uuid4(),
                        token_hash="f" * 64,
                        expires_at=datetime.now(UTC) + timedelta(days=1),
                    )
                )
            await database.dispose()

        async def live_sessions() -> int:
            from sqlalchemy import text
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(url)
            async with engine.connect() as connection:
                count = await connection.scalar(
                    text("SELECT count(*) FROM refresh_sessions WHERE revoked_at IS NULL")
                )
            await engine.dispose()
            return int(count or 0)

        asyncio.run(seed())
        monkeypatch.setenv("DATABASE_URL", url)
        result = runner.invoke(app, ["create-admin", "CLERK@example.com"])
        role = _role_of(url, "clerk@example.com")
        live = asyncio.run(live_sessions())
    assert result.exit_code == 0, result.output
    assert "promoted admin" in result.output
    assert role == "admin"
    assert live == 0  # reactivating revives nothing issued before


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("boss@example.com", "password", "too common"),
        ("boss@example.com", "short", "at least 8"),
        ("not-an-email", ADMIN_PASSWORD, "email"),
    ],
)
def test_create_admin_rejects_bad_input_in_one_line(
    monkeypatch: pytest.MonkeyPatch, email: str, password: str, reason: str
) -> None:
    monkeypatch.setenv("STOCKROOM_ADMIN_PASSWORD", password)
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = runner.invoke(app, ["create-admin", email])
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid admin:")
    assert reason in result.output
    assert result.output.count("\n") == 1


def test_reseal_with_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    result = runner.invoke(app, ["reseal-webhook-secrets"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot connect to the database at 127.0.0.1:1/nothing")
    assert result.output.count("\n") == 1
    assert "resealed" not in result.output


@pytest.mark.parametrize(
    ("key", "reason"),
    [(None, "SECRET_KEY is missing"), ("changeme-" * 5, "SECRET_KEY looks like a placeholder")],
)
def test_reseal_with_an_unfit_secret_key_is_one_line(
    monkeypatch: pytest.MonkeyPatch, key: str | None, reason: str
) -> None:
    # Sealing under a missing or placeholder key would make every secret readable by anyone
    # who guesses it: the command refuses before it touches the database.
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    if key:
        monkeypatch.setenv("SECRET_KEY", key)
    result = runner.invoke(app, ["reseal-webhook-secrets"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: invalid settings: {reason}")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("memory", "environment"), [("16", "development"), ("4096", "production")])
def test_a_hash_cost_the_settings_refuse_is_one_line(
    monkeypatch: pytest.MonkeyPatch, memory: str, environment: str
) -> None:
    # Below Argon2's floor anywhere, or below OWASP's outside development: no admin is made.
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("STOCKROOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", memory)
    result = runner.invoke(app, ["create-admin", "cost@example.com"])
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid settings: PASSWORD_HASH_MEMORY_KIB")
    assert result.output.count("\n") == 1
