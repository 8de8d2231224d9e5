"""Which sessions safe requests get: autocommit on a direct connection, a transaction
behind PgBouncer (whose transaction pooling could prepare a statement on one server
connection and run it on another)."""

from __future__ import annotations

from pathlib import Path

from src.core.database import Database
from tests.support.settings import make_settings

URL = "postgresql+asyncpg://app@db.invalid/stockroom"


async def test_reads_autocommit_on_a_direct_connection(tmp_path: Path) -> None:
    database = Database.from_settings(make_settings(URL, tmp_path))
    try:
        bind = database.read_session_factory.kw["bind"]
        assert bind.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        assert "isolation_level" not in database.session_factory.kw["bind"].get_execution_options()
    finally:
        await database.dispose()


async def test_reads_keep_their_transaction_behind_pgbouncer(tmp_path: Path) -> None:
    settings = make_settings(URL, tmp_path, db_pgbouncer=True, database_listen_url=URL)
    database = Database.from_settings(settings)
    try:
        assert database.read_session_factory is database.session_factory
    finally:
        await database.dispose()
