"""The ledger's rows (table `stock_movements`): only ever added, in one statement for many."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import orjson

from src.core.ids import new_id
from src.models.stock import Movement
from src.repositories.base import Repository
from src.repositories.unnest import columns_of, insert_rows


class MovementRepository(Repository[Movement]):
    """Ledger rows are only ever added (`add`, `add_all`); reads of the ledger are in
    `src.repositories.stock.read`."""

    model = Movement

    async def add_all(self, movements: Sequence[Movement]) -> None:
        """Insert several rows in one statement whose SQL is the same whatever their number
        (`src.repositories.unnest`), in the order given (`created_at`, the clock at each
        insert, follows it); each movement gets its `id` (when it has none) and `created_at`.
        The movements stay out of the session: the ledger is never updated."""
        if not movements:
            return
        await self.session.flush()  # anything pending goes first, as with an ORM flush
        for movement in movements:
            if movement.id is None:
                movement.id = new_id()
        rows = [{name: _plain(getattr(m, name)) for name in _LEDGER_COLUMNS} for m in movements]
        made = await self.session.execute(
            insert_rows(Movement.__table__, _LEDGER_COLUMNS, ("id", "created_at")),
            columns_of(rows, _LEDGER_COLUMNS),
        )
        created = {row.id: row.created_at for row in made}
        for movement in movements:
            movement.created_at = created[movement.id]


# Every column of a ledger row but `created_at` (the database's clock at the insert).
_LEDGER_COLUMNS = tuple(c.name for c in Movement.__table__.c if c.name != "created_at")


def _plain(value: Any) -> Any:
    """A column value as the driver takes it inside an array (an enum as its value, a JSON
    column's value as JSON text)."""
    if isinstance(value, Enum):
        return value.value
    return orjson.dumps(value).decode() if isinstance(value, dict) else value
