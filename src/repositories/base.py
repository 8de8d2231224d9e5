"""The generic repository and keyset pagination, written once for every list.

Keyset (not OFFSET) pagination: each page starts strictly after the previous page's last
sort key, so pages never skip or repeat rows when rows are inserted between fetches, and a
page deep in a large table costs the same as the first (given an index on the sort key).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    String,
    bindparam,
    func,
    literal,
    or_,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from src.core.cursors import CursorCodec
from src.core.exceptions import MalformedRequest
from src.core.prepared import fetch, rows_of
from src.core.querytiming import labelled, unlabelled
from src.models.base import Base

ModelT = TypeVar("ModelT", bound=Base)
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class SortOrder:
    """Columns that order a list uniquely (the last one is the primary key), one direction."""

    name: str
    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False


@dataclass(frozen=True)
class PageResult(Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


class OperationLabels:
    """Attributes the statements of each public coroutine method, inherited ones included,
    to "ClassName.method" in the query metrics and the slow-query log."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            method = unlabelled(inspect.getattr_static(cls, name))
            if not name.startswith("_") and inspect.iscoroutinefunction(method):
                setattr(cls, name, labelled(method, f"{cls.__name__}.{name}"))


class Repository(OperationLabels, Generic[ModelT]):
    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: uuid.UUID) -> ModelT | None:
        return await self.session.get(self.model, id_)

    async def get_for_update(self, id_: uuid.UUID) -> ModelT | None:
        return await self.session.get(self.model, id_, with_for_update=True, populate_existing=True)

    async def add(self, instance: ModelT) -> ModelT:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def paginate(
        self,
        statement: Select[Any],
        *,
        order: SortOrder,
        codec: CursorCodec,
        cursor: str | None,
        limit: int,
    ) -> PageResult[ModelT]:
        return await keyset_page(
            self.session,
            statement,
            scope=f"{self.model.__tablename__}:{order.name}",
            order=order,
            codec=codec,
            cursor=cursor,
            limit=limit,
        )


# Page queries of long-lived statements (`reuse=True`), by (scope, order, statement, after):
# built once, so SQLAlchemy neither rebuilds them nor recomputes their cache key per call.
_PAGE_QUERIES: dict[tuple[str, str, Select[Any], bool], Select[Any]] = {}


async def keyset_page(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    *,
    scope: str,
    order: SortOrder,
    codec: CursorCodec,
    cursor: str | None,
    limit: int,
    rows: bool = False,
    into: type[BaseModel] | None = None,
    params: Mapping[str, Any] | None = None,
    reuse: bool = False,
    reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> PageResult[Any]:
    """One page of `statement` after `cursor`. `rows=True` for multi-column selects (the
    order's columns must then be labelled with their attribute names); `into` turns each
    such row into that read schema, after `reshape` (if any) rearranged it (nesting joined
    columns, say). `params` are values for the statement's bound parameters; `reuse=True`
    for a statement built once (module-level or cached), never for one built per call: its
    page query is then kept and reused."""
    after = cursor is not None
    if reuse:
        key = (scope, order.name, statement, after)
        paged = _PAGE_QUERIES.get(key)
        if paged is None:
            paged = _PAGE_QUERIES.setdefault(key, _page_query(statement, order, after=after))
    else:
        paged = _page_query(statement, order, after=after)
    values = dict(params or {})
    values[_PAGE_SIZE] = limit + 1
    if cursor is not None:
        decoded = _typed(order.columns, codec.decode(scope, cursor))
        values.update(zip(_after_names(order), decoded, strict=True))
    if into is not None:
        # Rows by column name, straight into the read schema (on the driver's path when
        # the statement qualifies: see src.core.prepared).
        found = (
            await fetch(session, paged, values) if reuse else await rows_of(session, paged, values)
        )
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            next_cursor = codec.encode(scope, [page[-1][c.key] for c in order.columns])
        if reshape is not None:
            page = [reshape(row) for row in page]
        return PageResult([into.model_validate(row) for row in page], next_cursor)
    result = await session.execute(paged, values)
    items: list[Any] = list(result.all() if rows else result.scalars().all())
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = codec.encode(scope, [getattr(last, c.key) for c in order.columns])
    return PageResult(items, next_cursor)


_PAGE_SIZE = "keyset_page_size"


def _after_names(order: SortOrder) -> list[str]:
    return [f"keyset_after_{i}" for i in range(len(order.columns))]


def _page_query(statement: Select[Any], order: SortOrder, *, after: bool) -> Select[Any]:
    """`statement` ordered by the sort key, after the bound key values when `after`, limited
    to the bound page size."""
    # The table's own columns, not the ORM attributes: a statement free of ORM elements runs
    # on Core's lighter execution path, even through the session.
    columns = [column.property.columns[0] for column in order.columns]
    if after:
        key = tuple_(*columns)
        bound = tuple_(
            *(
                bindparam(name, type_=column.type)
                for name, column in zip(_after_names(order), columns, strict=True)
            )
        )
        statement = statement.where(key < bound if order.descending else key > bound)
    directions = [c.desc() if order.descending else c.asc() for c in columns]
    return statement.order_by(*directions).limit(bindparam(_PAGE_SIZE, type_=BigInteger))


def _typed(columns: Sequence[InstrumentedAttribute[Any]], values: list[Any]) -> list[Any]:
    """Turn a cursor's JSON values back into the sort columns' Python types."""
    if len(values) != len(columns):
        raise MalformedRequest("The cursor is not valid for this list")
    typed: list[Any] = []
    for column, value in zip(columns, values, strict=True):
        kind = column.type.python_type
        try:
            if value is None:
                typed.append(None)
            elif kind is datetime:
                typed.append(datetime.fromisoformat(value))
            elif kind is uuid.UUID:
                typed.append(uuid.UUID(value))
            elif kind is Decimal:
                typed.append(Decimal(value))
            else:
                typed.append(kind(value))
        except (ValueError, TypeError):
            raise MalformedRequest("The cursor is not valid for this list") from None
    return typed


def violated_constraint(error: DBAPIError) -> str | None:
    """The name of the constraint an IntegrityError broke (asyncpg reports it)."""
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    return str(name) if name else None


def violation_detail(error: DBAPIError) -> str:
    """PostgreSQL's detail of the violation ("Key (barcode)=(…) already exists."), or ""."""
    cause = getattr(error.orig, "__cause__", None)
    return str(getattr(cause, "detail", None) or "")


def contains_any(text: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive substring match on any of `columns` (served by trigram indexes)."""
    pattern = f"%{escape_like(text.lower())}%"
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def folded_contains(text: str, column: Any) -> ColumnElement[bool]:
    """Substring match, ignoring case and accents, on a column the database folded with
    `search_fold` (migration 0017). The term is folded by the same function, then escaped
    for LIKE in SQL: folding can turn a character into a LIKE wildcard (the full-width
    percent sign into '%')."""
    folded: ColumnElement[str] = func.search_fold(literal(text, String))
    for char in ("\\", "%", "_"):  # the escape character first
        folded = func.replace(folded, char, "\\" + char)
    pattern = literal("%", String) + folded + literal("%", String)
    match: ColumnElement[bool] = column.like(pattern, escape="\\")
    return match


def escape_like(text: str) -> str:
    """Make user text literal inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def columns_for(table: FromClause, schema: type[BaseModel]) -> list[ColumnElement[Any]]:
    """The columns of `table` that `schema` shows: selecting these Core columns and
    validating the rows into the schema costs far less than loading ORM entities."""
    return [table.c[name] for name in schema.model_fields]
