"""Queries over reservations.

Every change is one conditional statement on the reservation's row (`WHERE status =
'active' …`), so two requests racing to fulfil, release or expire one reservation cannot
both win. Callers lock the reservation's level first (`StockRepository.lock_levels`): every
path takes the level's lock before a reservation's, so they queue instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from src.core.cursors import CursorCodec
from src.models.reservation import Reservation, ReservationStatus
from src.repositories.base import PageResult, Repository, SortOrder
from src.schemas.filter import ReservationFilter

NEWEST_FIRST = SortOrder("newest", (Reservation.created_at, Reservation.id), descending=True)
_ACTIVE = ReservationStatus.ACTIVE

Pair = tuple[uuid.UUID, uuid.UUID]

_IDS = ARRAY(UUID(as_uuid=True))
# Several levels' or reservations' figures as arrays read back with `unnest`, not one `IN`
# item or `CASE` branch each: the same SQL whatever their number (`src.repositories.unnest`).
_LEVELS = (
    func.unnest(bindparam("products", type_=_IDS), bindparam("locations", type_=_IDS))
    .table_valued("product_id", "location_id")
    .render_derived()
    .alias("level")
)
_ON_LEVELS = tuple_(Reservation.product_id, Reservation.location_id).in_(
    select(_LEVELS.c.product_id, _LEVELS.c.location_id)
)
_LEFT = (
    func.unnest(
        bindparam("ids", type_=_IDS),
        bindparam("remaining", type_=ARRAY(Reservation.__table__.c.remaining.type)),
    )
    .table_valued("id", "remaining")
    .render_derived()
    .alias("left_")
)


def _levels(pairs: Collection[Pair]) -> dict[str, list[uuid.UUID]]:
    """The parameters of `_ON_LEVELS`."""
    keys = sorted(pairs)
    return {"products": [p for p, _ in keys], "locations": [loc for _, loc in keys]}


def _holding() -> Any:
    """Active and not yet past its expiry: the reservation still holds its stock."""
    return (Reservation.status == _ACTIVE) & (Reservation.expires_at > func.now())


def _overdue() -> Any:
    """Still marked active, but past its expiry: it no longer holds stock."""
    return (Reservation.status == _ACTIVE) & (Reservation.expires_at <= func.now())


class ReservationRepository(Repository[Reservation]):
    model = Reservation

    async def add(self, instance: Reservation) -> Reservation:
        """Insert it; `expires_at` may be a SQL expression (the database's clock), read back."""
        await super().add(instance)
        await self.session.refresh(instance, ["expires_at"])
        return instance

    async def _changed(
        self, statement: Any, params: dict[str, Any] | None = None
    ) -> list[Reservation]:
        result = await self.session.scalars(
            statement.returning(Reservation),
            params,
            execution_options={"populate_existing": True},
        )
        return list(result.all())

    async def take(self, reservation_id: uuid.UUID, quantity: int) -> Reservation | None:
        """Lower `remaining` by `quantity` (fulfilled at zero) if it still holds that much."""
        left = Reservation.remaining - quantity
        changed = await self._changed(
            update(Reservation)
            .where(Reservation.id == reservation_id, _holding(), Reservation.remaining >= quantity)
            .values(
                remaining=left,
                status=case((left == 0, ReservationStatus.FULFILLED.value), else_=_ACTIVE.value),
            )
        )
        return changed[0] if changed else None

    async def release(self, reservation_id: uuid.UUID) -> Reservation | None:
        """Mark it released if it still holds its stock (what it held is freed by the caller)."""
        changed = await self._changed(
            update(Reservation)
            .where(Reservation.id == reservation_id, _holding())
            .values(status=ReservationStatus.RELEASED)
        )
        return changed[0] if changed else None

    async def expire_on_level(
        self, product_id: uuid.UUID, location_id: uuid.UUID
    ) -> list[Reservation]:
        """Mark the level's overdue reservations expired; those that were."""
        return await self._changed(
            update(Reservation)
            .where(
                Reservation.product_id == product_id,
                Reservation.location_id == location_id,
                _overdue(),
            )
            .values(status=ReservationStatus.EXPIRED)
        )

    async def expire_on_levels(self, pairs: Collection[Pair]) -> list[Reservation]:
        """`expire_on_level` for several levels in one statement."""
        if not pairs:
            return []
        return await self._changed(
            update(Reservation)
            .where(_ON_LEVELS, _overdue())
            .values(status=ReservationStatus.EXPIRED)
            .execution_options(synchronize_session=False),
            _levels(pairs),
        )

    async def holding_on_levels(self, pairs: Collection[Pair]) -> list[Reservation]:
        """`holding_newest_first` for several levels in one statement: by level, each
        level's newest first, locked."""
        if not pairs:
            return []
        statement = (
            select(Reservation)
            .where(_ON_LEVELS, _holding())
            .order_by(
                Reservation.product_id,
                Reservation.location_id,
                Reservation.created_at.desc(),
                Reservation.id.desc(),
            )
            .with_for_update()
        )
        return list((await self.session.scalars(statement, _levels(pairs))).all())

    async def shorten_many(self, remaining: dict[uuid.UUID, int]) -> list[Reservation]:
        """`shorten` several locked reservations in one statement; the changed rows."""
        if not remaining:
            return []
        left = _LEFT.c.remaining
        return await self._changed(
            update(Reservation)
            .where(Reservation.id == _LEFT.c.id)
            .values(
                remaining=left,
                status=case((left > 0, _ACTIVE.value), else_=ReservationStatus.RELEASED.value),
            )
            .execution_options(synchronize_session=False),
            {"ids": list(remaining), "remaining": list(remaining.values())},
        )

    async def take_many(self, remaining: dict[uuid.UUID, int]) -> list[Reservation]:
        """Set what several locked, active reservations still hold after a fulfilment (one
        statement; fulfilled at zero); the changed rows."""
        if not remaining:
            return []
        left = _LEFT.c.remaining
        return await self._changed(
            update(Reservation)
            .where(Reservation.id == _LEFT.c.id, Reservation.status == _ACTIVE)
            .values(
                remaining=left,
                status=case((left > 0, _ACTIVE.value), else_=ReservationStatus.FULFILLED.value),
            )
            .execution_options(synchronize_session=False),
            {"ids": list(remaining), "remaining": list(remaining.values())},
        )

    async def release_picks(self, allocation_id: uuid.UUID) -> list[Reservation]:
        """Release an allocation's active picks (its levels locked); those released."""
        return await self._changed(
            update(Reservation)
            .where(Reservation.allocation_id == allocation_id, Reservation.status == _ACTIVE)
            .values(status=ReservationStatus.RELEASED)
            .execution_options(synchronize_session=False)
        )

    async def pick_levels(self, allocation_id: uuid.UUID) -> list[Pair]:
        """The levels an allocation's picks are on (none: no such allocation)."""
        rows = await self.session.execute(
            select(Reservation.product_id, Reservation.location_id)
            .where(Reservation.allocation_id == allocation_id)
            .distinct()
        )
        return [(row.product_id, row.location_id) for row in rows]

    async def is_overdue(self, reservation_id: uuid.UUID) -> bool:
        """Past its expiry by the database's clock (the one the sweeper goes by)."""
        overdue = await self.session.scalar(
            select(Reservation.expires_at <= func.now()).where(Reservation.id == reservation_id)
        )
        return bool(overdue)

    async def holding_newest_first(
        self, product_id: uuid.UUID, location_id: uuid.UUID
    ) -> list[Reservation]:
        """The level's reservations that hold stock, newest first, locked."""
        statement = (
            select(Reservation)
            .where(
                Reservation.product_id == product_id,
                Reservation.location_id == location_id,
                _holding(),
            )
            .order_by(Reservation.created_at.desc(), Reservation.id.desc())
            .with_for_update()
        )
        return list((await self.session.scalars(statement)).all())

    async def shorten(self, reservation_id: uuid.UUID, remaining: int) -> Reservation:
        """Set what a locked reservation holds (released when nothing is left)."""
        status = _ACTIVE if remaining > 0 else ReservationStatus.RELEASED
        changed = await self._changed(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(remaining=remaining, status=status)
        )
        return changed[0]

    async def overdue_levels(self, limit: int, *, skip: Collection[Pair] = ()) -> list[Pair]:
        """Levels that hold overdue reservations, soonest expiry first (at most `limit`),
        except those in `skip` (passed as arrays: the same SQL however many are skipped)."""
        soonest = (
            select(Reservation.product_id, Reservation.location_id)
            .where(_overdue(), ~_ON_LEVELS)
            .order_by(Reservation.expires_at)
            .limit(limit * 10)
            .subquery()
        )
        rows = await self.session.execute(
            select(soonest.c.product_id, soonest.c.location_id).distinct().limit(limit),
            _levels(skip),
        )
        return [(row.product_id, row.location_id) for row in rows]

    async def page(
        self, filters: ReservationFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[Reservation]:
        statement: Select[Any] = select(Reservation)
        if filters.product_id:
            statement = statement.where(Reservation.product_id.in_(filters.product_id))
        if filters.location_id:
            statement = statement.where(Reservation.location_id.in_(filters.location_id))
        if filters.status is not None:
            statement = statement.where(Reservation.status == filters.status)
        if filters.reference is not None:
            statement = statement.where(Reservation.reference == filters.reference)
        return await self.paginate(
            statement, order=NEWEST_FIRST, codec=codec, cursor=cursor, limit=limit
        )
