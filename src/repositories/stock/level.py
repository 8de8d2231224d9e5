"""Changes to stock levels.

Levels change only through single conditional statements (`post`, `increase`, `decrease`,
`set_level` on a locked level), so concurrent postings never read-then-write. The CHECKs
(0 <= reserved <= on_hand) back them up.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, UUID, insert

from src.models.stock import StockLevel
from src.repositories.base import Repository
from src.repositories.stock.posting import PREFIX as POSTING_PREFIX
from src.repositories.stock.posting import added_to_level, posting_statement

Pair = tuple[uuid.UUID, uuid.UUID]

_IDS, _INTS = ARRAY(UUID(as_uuid=True)), ARRAY(BIGINT)
# Several levels locked in one statement, in (product_id, location_id) order: the rows are
# inserted (or found, and locked by the no-op update) in the order of the SELECT.
_LOCK_MANY = text(
    """
    INSERT INTO stock_levels (product_id, location_id, on_hand)
    SELECT k.product_id, k.location_id, 0
    FROM unnest(CAST(:products AS uuid[]), CAST(:locations AS uuid[]))
        AS k(product_id, location_id)
    ORDER BY k.product_id, k.location_id
    ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = stock_levels.on_hand
    RETURNING product_id, location_id, on_hand, reserved
    """
).bindparams(bindparam("products", type_=_IDS), bindparam("locations", type_=_IDS))
# Several locked levels changed in one statement, each by its own figures.
_CHANGE_MANY = text(
    """
    UPDATE stock_levels AS s
    SET on_hand = s.on_hand + d.on_hand,
        reserved = s.reserved - d.unreserve,
        incoming = s.incoming + d.incoming,
        updated_at = now()
    FROM unnest(
        CAST(:products AS uuid[]), CAST(:locations AS uuid[]), CAST(:on_hand AS bigint[]),
        CAST(:unreserve AS bigint[]), CAST(:incoming AS bigint[])
    ) AS d(product_id, location_id, on_hand, unreserve, incoming)
    WHERE s.product_id = d.product_id AND s.location_id = d.location_id
    """
).bindparams(
    bindparam("products", type_=_IDS),
    bindparam("locations", type_=_IDS),
    bindparam("on_hand", type_=_INTS),
    bindparam("unreserve", type_=_INTS),
    bindparam("incoming", type_=_INTS),
)


@dataclass(frozen=True, slots=True)
class LevelChange:
    """What one locked level changes by: `on_hand`, `reserved` lowered by `unreserve`,
    `incoming`."""

    on_hand: int = 0
    unreserve: int = 0
    incoming: int = 0


@dataclass(frozen=True, slots=True)
class LevelState:
    """A level's figures after a change (or as locked)."""

    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class LevelRepository(Repository[StockLevel]):
    model = StockLevel

    async def post(self, values: dict[str, Any]) -> Row[Any]:
        """Post one movement (`values`: its columns, `quantity` the signed delta) in one
        statement: lock the product and the location FOR SHARE (as archiving locks them FOR
        UPDATE), and only if both exist and neither is archived, apply the delta to the
        level (creating it on a first receipt; a decrease only if enough is on hand) and
        insert the ledger row with the balance after it.

        One row back: `product_id`/`product_archived`/`reorder_point` (NULL: no product),
        `location_id`/`location_archived` (NULL: no location), and the movement's columns
        (NULL: nothing posted: unusable product or location, or not enough on hand).
        """
        names = tuple(name for name in values if name != "balance_after")
        statement = posting_statement(increase=values["quantity"] > 0, names=names)
        params = {f"{POSTING_PREFIX}{name}": values[name] for name in names}
        row: Row[Any] = (await self.session.execute(statement, params)).one()
        return row

    async def increase(
        self, product_id: uuid.UUID, location_id: uuid.UUID, delta: int
    ) -> LevelState:
        """Increase a level (creating it on first receipt); the level after."""
        statement = added_to_level(
            insert(StockLevel).values(product_id=product_id, location_id=location_id, on_hand=delta)
        )
        row = (await self.session.execute(statement)).one()
        return LevelState(int(row.on_hand), int(row.reserved))

    async def decrease(
        self,
        product_id: uuid.UUID,
        location_id: uuid.UUID,
        amount: int,
        *,
        from_reserved: int = 0,
    ) -> LevelState | None:
        """Take `amount` from a level, `from_reserved` of it out of what is reserved (a
        fulfilment) and the rest only if available; the level after, or None when the
        level cannot give it."""
        statement = (
            update(StockLevel)
            .where(
                StockLevel.product_id == product_id,
                StockLevel.location_id == location_id,
                StockLevel.on_hand - StockLevel.reserved >= amount - from_reserved,
                StockLevel.reserved >= from_reserved,
            )
            .values(
                on_hand=StockLevel.on_hand - amount,
                reserved=StockLevel.reserved - from_reserved,
                updated_at=func.now(),
            )
            .returning(StockLevel.on_hand, StockLevel.reserved)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else LevelState(int(row.on_hand), int(row.reserved))

    async def level(self, product_id: uuid.UUID, location_id: uuid.UUID) -> LevelState:
        """A level as it is now (zero when it was never stocked)."""
        row = (
            await self.session.execute(
                select(StockLevel.on_hand, StockLevel.reserved).where(
                    StockLevel.product_id == product_id, StockLevel.location_id == location_id
                )
            )
        ).one_or_none()
        return LevelState(0, 0) if row is None else LevelState(int(row.on_hand), int(row.reserved))

    async def available(self, product_id: uuid.UUID, location_id: uuid.UUID) -> int:
        return (await self.level(product_id, location_id)).available

    async def lock_levels(self, pairs: Sequence[Pair]) -> dict[Pair, LevelState]:
        """Lock (creating at zero where missing) several levels in one fixed order.

        Every multi-level operation locks in (product_id, location_id) order, so two of them
        touching the same levels in opposite directions queue instead of deadlocking.
        """
        locked: dict[Pair, LevelState] = {}
        for product_id, location_id in sorted(set(pairs)):
            statement = (
                insert(StockLevel)
                .values(product_id=product_id, location_id=location_id, on_hand=0)
                .on_conflict_do_update(
                    index_elements=[StockLevel.product_id, StockLevel.location_id],
                    set_={"on_hand": StockLevel.on_hand},
                )
                .returning(StockLevel.on_hand, StockLevel.reserved)
            )
            row = (await self.session.execute(statement)).one()
            locked[(product_id, location_id)] = LevelState(int(row.on_hand), int(row.reserved))
        return locked

    async def lock_many(self, pairs: Sequence[Pair]) -> dict[Pair, LevelState]:
        """`lock_levels` in one statement, however many levels (same order, same result)."""
        keys = sorted(set(pairs))
        if not keys:
            return {}
        rows = await self.session.execute(
            _LOCK_MANY,
            {"products": [p for p, _ in keys], "locations": [loc for _, loc in keys]},
        )
        return {
            (row.product_id, row.location_id): LevelState(int(row.on_hand), int(row.reserved))
            for row in rows
        }

    async def change_many(self, changes: dict[Pair, LevelChange]) -> None:
        """Change several locked levels in one statement; the caller knows the figures
        after (nothing else can change a locked level). The CHECKs still decide."""
        keys = [pair for pair, change in changes.items() if change != LevelChange()]
        if not keys:
            return
        await self.session.execute(
            _CHANGE_MANY,
            {
                "products": [p for p, _ in keys],
                "locations": [loc for _, loc in keys],
                "on_hand": [changes[k].on_hand for k in keys],
                "unreserve": [changes[k].unreserve for k in keys],
                "incoming": [changes[k].incoming for k in keys],
            },
        )

    async def set_level(
        self, product_id: uuid.UUID, location_id: uuid.UUID, *, delta: int, unreserve: int
    ) -> LevelState:
        """Change a locked level by `delta` and lower its `reserved` by `unreserve` in one
        statement (a count that shrank reservations: the CHECK sees both at once)."""
        statement = (
            update(StockLevel)
            .where(StockLevel.product_id == product_id, StockLevel.location_id == location_id)
            .values(
                on_hand=StockLevel.on_hand + delta,
                reserved=StockLevel.reserved - unreserve,
                updated_at=func.now(),
            )
            .returning(StockLevel.on_hand, StockLevel.reserved)
        )
        row = (await self.session.execute(statement)).one()
        return LevelState(int(row.on_hand), int(row.reserved))

    async def reserve(
        self, product_id: uuid.UUID, location_id: uuid.UUID, quantity: int
    ) -> LevelState | None:
        """Hold `quantity` more of the level if that much is available; the level after, or
        None when it is not."""
        statement = (
            update(StockLevel)
            .where(
                StockLevel.product_id == product_id,
                StockLevel.location_id == location_id,
                StockLevel.on_hand - StockLevel.reserved >= quantity,
            )
            .values(reserved=StockLevel.reserved + quantity, updated_at=func.now())
            .returning(StockLevel.on_hand, StockLevel.reserved)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else LevelState(int(row.on_hand), int(row.reserved))

    async def try_lock(self, product_id: uuid.UUID, location_id: uuid.UUID) -> bool:
        """Lock the level unless another transaction holds it (then False, at once)."""
        statement = (
            select(StockLevel.product_id)
            .where(StockLevel.product_id == product_id, StockLevel.location_id == location_id)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(statement)).first() is not None

    async def add_incoming(self, product_id: uuid.UUID, location_id: uuid.UUID, delta: int) -> None:
        """Change what is on its way to a (locked) level by `delta`."""
        await self.session.execute(
            update(StockLevel)
            .where(StockLevel.product_id == product_id, StockLevel.location_id == location_id)
            .values(incoming=StockLevel.incoming + delta, updated_at=func.now())
        )
