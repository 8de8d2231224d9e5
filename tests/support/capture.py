"""A stand-in for the session that records what a repository would execute."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.ext.asyncio import AsyncSession


class CapturingSession:
    """Records each statement with its values bound, and returns no rows."""

    def __init__(self) -> None:
        self.statements: list[Select[Any]] = []

    async def execute(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> CapturingSession:
        self.statements.append(statement.params(parameters or {}))
        return self

    def scalars(self) -> CapturingSession:
        return self

    def mappings(self) -> CapturingSession:
        return self

    @property
    def sync_session(self) -> Any:
        # A dialect other than asyncpg: src.core.prepared then hands the statement to
        # execute() too, where it is captured.
        return SimpleNamespace(get_bind=lambda: SimpleNamespace(dialect=psycopg.dialect()))

    def all(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def capturing_session() -> AsyncSession:
    return cast(AsyncSession, CapturingSession())
