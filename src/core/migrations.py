"""Run Alembic programmatically, for `stockroom migrate`, `serve` and the test suite."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    # Escape % for configparser interpolation (passwords may contain it).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def heads() -> set[str]:
    """The latest revisions the code knows: a schema at them is current."""
    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


def current_heads(connection: Connection) -> set[str]:
    """The revisions the database is at (none where it was never migrated); a schema is
    current when they equal `heads()`. Sync: call it through `AsyncConnection.run_sync`."""
    # Alembic announces its context at INFO; a check that reads a version has nothing to say.
    announcer = logging.getLogger("alembic.runtime.migration")
    level = announcer.level
    announcer.setLevel(logging.WARNING)
    try:
        return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        announcer.setLevel(level)
