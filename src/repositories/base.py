"""The generic repository and keyset pagination, written once for every list.

Keyset (not OFFSET) pagination: each page starts strictly after the previous page's last
sort key, so pages never skip or repeat rows when rows are inserted between fetches, and a
page deep in a large table costs the same as the first (given an index on the sort key).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from src.core.cursors import CursorCodec
from src.core.exceptions import MalformedRequest
from src.core.querytiming import labelled, unlabelled
from src.models.base import Base

ModelT = TypeVar("ModelT", bound=Base)


@dataclass(frozen=True)
class SortOrder:
    """Columns that order a list uniquely (the last one is the primary key), one direction."""

    name: str
    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False


@dataclass(frozen=True)
class PageResult(Generic[ModelT]):
    items: list[ModelT]
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
) -> PageResult[Any]:
    """One page of `statement` after `cursor`. `rows=True` for multi-column selects (the
    order's columns must then be labelled with their attribute names)."""
    key = tuple_(*order.columns)
    if cursor is not None:
        after = tuple_(*_typed(order.columns, codec.decode(scope, cursor)))
        statement = statement.where(key < after if order.descending else key > after)
    directions = [c.desc() if order.descending else c.asc() for c in order.columns]
    statement = statement.order_by(*directions).limit(limit + 1)
    result = await session.execute(statement)
    items: list[Any] = list(result.all() if rows else result.scalars().all())
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = codec.encode(scope, [getattr(last, c.key) for c in order.columns])
    return PageResult(items, next_cursor)


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


def contains_any(text: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive substring match on any of `columns` (served by trigram indexes)."""
    pattern = f"%{escape_like(text.lower())}%"
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def escape_like(text: str) -> str:
    """Make user text literal inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
