"""The sweeper's query for overdue levels sends the same SQL however many levels it skips
(issue #23 review): the skipped pairs go as two arrays read with `unnest`, not one `NOT IN`
item each, so a new skip-set size prepares no new statement."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects import postgresql

from src.repositories.reservation import Pair, ReservationRepository


class _Session:
    """Records what `overdue_levels` executes; answers no rows."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, dict[str, Any]]] = []

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        sql = statement.compile(
            dialect=postgresql.asyncpg.dialect(), compile_kwargs={"render_postcompile": True}
        )
        self.executed.append((str(sql), params or {}))
        return []


def _pairs(count: int) -> set[Pair]:
    return {(uuid.uuid4(), uuid.uuid4()) for _ in range(count)}


async def _sql(skip: set[Pair]) -> tuple[str, dict[str, Any]]:
    session = _Session()
    repository = ReservationRepository(session)  # type: ignore[arg-type]
    assert await repository.overdue_levels(10, skip=skip) == []
    [(sql, params)] = session.executed
    return sql, params


async def test_the_sql_is_the_same_for_any_number_of_skipped_levels() -> None:
    texts = {(await _sql(_pairs(count)))[0] for count in (0, 1, 5, 40)}
    assert len(texts) == 1
    [text] = texts
    assert "unnest" in text
    assert "NOT IN (SELECT" in text


async def test_the_skipped_levels_go_as_two_arrays_in_one_order() -> None:
    skip = _pairs(5)
    _, params = await _sql(skip)
    assert sorted(zip(params["products"], params["locations"], strict=True)) == sorted(skip)
    assert params["products"] == sorted(params["products"])


async def test_nothing_skipped_sends_empty_arrays_not_another_statement() -> None:
    _, params = await _sql(set())
    assert params == {"products": [], "locations": []}
