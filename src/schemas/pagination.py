from typing import Any, Generic, TypeVar

from src.schemas.base import Output

T = TypeVar("T")


class Page(Output, Generic[T]):
    """A keyset page: pass `next_cursor` back as `?cursor=` for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        # Page[ProductRead] is titled, and published as, "ProductPage" (src/api/openapi).
        (item,) = params
        return f"{getattr(item, '__name__', 'Item').removesuffix('Read')}Page"
