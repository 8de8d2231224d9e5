"""Throwaway databases on the test server: each suite (and each stairway run) gets its own.

Migrated databases are copies of one template migrated once per server (`CREATE DATABASE
… TEMPLATE`): a copy costs a fraction of running every migration again, and some tests take
a migrated database of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

from src.cli.embedded import ThrowawayPostgres
from src.config import normalize_database_url
from src.core import migrations


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


_NO_AUTOVACUUM = """
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER TABLE %I SET (autovacuum_enabled = false)', t.tablename);
    END LOOP;
END $$
"""


def hold_statistics(url: str) -> None:
    """Autovacuum off on every table of a migrated database. The rollback tests' undone
    inserts would otherwise get tables vacuumed or analyzed at moments that vary from run to
    run, and the plans the index tests read (tests/integration/operations/test_list_indexes.py) with
    them."""
    asyncio.run(_admin(url, _NO_AUTOVACUUM))


class TestServer:
    """A PostgreSQL server we may create databases on."""

    __test__ = False

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalize_database_url(admin_url)
        self._template: str | None = None

    def url_for(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def create_database(self, prefix: str = "stockroom_test", *, template: str = "") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        asyncio.run(_admin(self.admin_url, f'CREATE DATABASE "{name}"{copy}'))
        return name

    def drop_database(self, name: str) -> None:
        asyncio.run(_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    @contextmanager
    def fresh_database(self, prefix: str = "stockroom_test") -> Iterator[str]:
        name = self.create_database(prefix)
        try:
            yield self.url_for(name)
        finally:
            self.drop_database(name)

    @contextmanager
    def migrated_database(self, prefix: str) -> Iterator[str]:
        """A fresh database at the newest schema (a copy of the template), dropped afterwards."""
        name = self.create_database(prefix, template=self._migrated_template())
        try:
            yield self.url_for(name)
        finally:
            self.drop_database(name)

    def _migrated_template(self) -> str:
        # Nobody connects to it after the migration: a copy needs its template unused.
        if self._template is None:
            name = self.create_database("stockroom_template")
            migrations.upgrade(self.url_for(name))
            self._template = name
        return self._template

    def close(self) -> None:
        if self._template is not None:
            self.drop_database(self._template)
            self._template = None


@contextmanager
def test_server(external_url: str | None) -> Iterator[TestServer]:
    """The server named by TEST_DATABASE_URL, or a throwaway embedded one."""
    if external_url:
        server = TestServer(external_url)
        try:
            yield server
        finally:
            server.close()
        return
    embedded = ThrowawayPostgres()
    embedded.start()
    try:
        yield TestServer(embedded.url("postgres"))
    finally:
        # The cluster goes as a whole, its template with it.
        embedded.stop()
