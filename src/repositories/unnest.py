"""Multi-row statements whose SQL is the same whatever the row count.

A statement with one `VALUES` tuple (or one `IN` item) per row has a new text for every row
count: each new count is prepared again (a round trip) and takes a slot of the connection's
statement cache for a one-off statement. These pass one array per column instead and read the
rows back with `unnest(...)`, so their text never changes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.sql.dml import ReturningInsert


@functools.cache
def insert_rows(
    table: Table, columns: tuple[str, ...], returning: tuple[str, ...] = ()
) -> Insert | ReturningInsert[Any]:
    """INSERT of any number of rows, one array per column (bound by the column's name), the
    rows inserted in the arrays' order; RETURNING the columns `returning` (if any)."""
    arrays = [cast(bindparam(name), ARRAY(table.c[name].type)) for name in columns]
    rows = (
        func.unnest(*arrays).table_valued(*columns, with_ordinality="n").render_derived().alias("v")
    )
    statement: Insert = insert(table).from_select(
        list(columns), select(*(rows.c[name] for name in columns)).order_by(rows.c.n)
    )
    if returning:
        return statement.returning(*(table.c[name] for name in returning))
    return statement


def columns_of(rows: Sequence[dict[str, Any]], columns: tuple[str, ...]) -> dict[str, list[Any]]:
    """The rows' values as one list per column (the parameters of `insert_rows`)."""
    return {name: [row[name] for row in rows] for name in columns}
