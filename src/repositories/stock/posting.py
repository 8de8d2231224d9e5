"""The one statement that posts a movement (`LevelRepository.post`), built once per shape."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.sql.dml import ReturningInsert

from src.models.catalog import Location, Product
from src.models.stock import Movement, StockLevel


def added_to_level(statement: Insert) -> ReturningInsert[int, int]:
    """An INSERT of a level that, where the level exists, adds its `on_hand` to it instead;
    returning the level's new on-hand and reserved."""
    return statement.on_conflict_do_update(
        index_elements=[StockLevel.product_id, StockLevel.location_id],
        set_={
            "on_hand": StockLevel.on_hand + literal_column("excluded.on_hand"),
            "updated_at": func.now(),
        },
    ).returning(StockLevel.on_hand, StockLevel.reserved)


PREFIX = "m_"  # of each parameter's name: bind `{PREFIX}{column}` for each column in `names`


@functools.cache
def posting_statement(*, increase: bool, names: tuple[str, ...]) -> Select[Any]:
    """The statement of `LevelRepository.post`, built once per shape with the movement's
    columns as bound parameters (`names`; `quantity` is the signed delta): building it per
    posting, cache key and all, was half a posting's CPU."""
    table = Movement.__table__
    # Prefixed: a parameter named like a column would also be SET by the UPDATE.
    param = {name: bindparam(f"{PREFIX}{name}", type_=table.c[name].type) for name in names}
    product_id, location_id, delta = param["product_id"], param["location_id"], param["quantity"]
    product = (
        select(Product.id, Product.reorder_point, Product.is_archived)
        .where(Product.id == product_id)
        .with_for_update(read=True)
        .cte("product")
    )
    location = (
        select(Location.id, Location.is_archived, Location.is_transit)
        .where(Location.id == location_id)
        .with_for_update(read=True)
        .cte("location")
    )
    usable = (
        exists().select_from(product).where(product.c.is_archived.is_(False)),
        exists()
        .select_from(location)
        .where(location.c.is_archived.is_(False), location.c.is_transit.is_(False)),
    )
    level: Any
    if increase:
        level = insert(StockLevel).from_select(
            ["product_id", "location_id", "on_hand"],
            select(product_id, location_id, delta).where(*usable),
        )
        level = added_to_level(level)
    else:
        level = (
            update(StockLevel)
            .where(
                StockLevel.product_id == product_id,
                StockLevel.location_id == location_id,
                # Only what is available: reserved stock leaves by fulfilment alone.
                StockLevel.on_hand - StockLevel.reserved >= -delta,
                *usable,
            )
            .values(on_hand=StockLevel.on_hand + delta, updated_at=func.now())
            .returning(StockLevel.on_hand, StockLevel.reserved)
        )
    level = level.cte("level")
    movement = (
        insert(Movement)
        .from_select([*names, "balance_after"], select(*(param[n] for n in names), level.c.on_hand))
        .returning(*table.c)
        .cte("movement")
    )
    one = select(literal_column("1").label("one")).subquery("one")
    return select(
        product.c.id.label("found_product"),
        product.c.is_archived.label("product_archived"),
        product.c.reorder_point,
        location.c.id.label("found_location"),
        location.c.is_archived.label("location_archived"),
        location.c.is_transit.label("location_transit"),
        level.c.reserved,
        *movement.c,
    ).select_from(
        one.outerjoin(product, true())
        .outerjoin(location, true())
        .outerjoin(level, true())
        .outerjoin(movement, true())
    )
