from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A keyset page: pass `next_cursor` back as `?cursor=` for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None
