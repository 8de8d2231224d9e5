"""Queries over allocations, their lines and their picks (reservations), and the sources
an allocation may take stock from.

Every statement over many rows takes arrays (`= ANY`, `unnest`), so its SQL is the same
whatever the line count (`src.repositories.unnest`). Lock order: locations FOR SHARE, then
levels FOR UPDATE in (product_id, location_id) order, then reservations, then allocations
in id order, on every path.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, Select, String, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, UUID

from src.core.cursors import CursorCodec
from src.models.allocation import Allocation, AllocationLine, AllocationStatus
from src.models.reservation import Reservation
from src.repositories.base import PageResult, Repository, SortOrder
from src.repositories.stock.level import LevelState, Pair
from src.repositories.unnest import columns_of, insert_rows
from src.schemas.filter import AllocationFilter

NEWEST_FIRST = SortOrder("newest", (Allocation.created_at, Allocation.id), descending=True)

_IDS = ARRAY(UUID(as_uuid=True))
_ALLOCATIONS, _LINES = Allocation.__table__, AllocationLine.__table__

# Named locations (pins, preferences), and every usable location with a level of the products
# (on hand or not: a level at 0 may be refilled by a posting this one waits for), locked FOR
# SHARE (archiving locks a location FOR UPDATE) in id order.
_LOCK_SOURCES = text(
    """
    SELECT l.id, l.code, l.is_archived, l.is_transit
    FROM locations AS l
    WHERE l.id = ANY(CAST(:named AS uuid[]))
       OR (NOT l.is_archived AND NOT l.is_transit AND EXISTS (
            SELECT 1 FROM stock_levels AS s
            WHERE s.location_id = l.id AND s.product_id = ANY(CAST(:products AS uuid[]))))
    ORDER BY l.id
    FOR SHARE OF l
    """
).bindparams(bindparam("named", type_=_IDS), bindparam("products", type_=_IDS))
# The existing levels of the products at the locations, locked in the one global order.
_LOCK_LEVELS = text(
    """
    SELECT s.product_id, s.location_id, s.on_hand, s.reserved
    FROM stock_levels AS s
    WHERE s.product_id = ANY(CAST(:products AS uuid[]))
      AND s.location_id = ANY(CAST(:locations AS uuid[]))
    ORDER BY s.product_id, s.location_id
    FOR UPDATE OF s
    """
).bindparams(bindparam("products", type_=_IDS), bindparam("locations", type_=_IDS))
_INSERT_ALLOCATION = (
    insert(Allocation)
    .values(expires_at=func.now() + bindparam("lifetime", type_=Interval()))
    .returning(_ALLOCATIONS.c.expires_at, _ALLOCATIONS.c.created_at, _ALLOCATIONS.c.updated_at)
)
_LINE_COLUMNS = ("id", "allocation_id", "position", "product_id", "quantity", "fulfilled")
PICK_COLUMNS = (
    "id",
    "product_id",
    "location_id",
    "quantity",
    "remaining",
    "status",
    "expires_at",
    "reference",
    "created_by",
    "actor",
    "allocation_id",
    "allocation_line_id",
)
_LOCK = (
    select(_ALLOCATIONS.c.id, _ALLOCATIONS.c.status)
    .where(_ALLOCATIONS.c.id == any_(bindparam("ids", type_=_IDS)))
    .order_by(_ALLOCATIONS.c.id)
    .with_for_update()
)
# What decides each allocation's status: read in a statement of its own after the lock, so
# (READ COMMITTED) it sees what every transaction that held the lock before committed.
_STANDING = text(
    """
    SELECT a.id,
        EXISTS (SELECT 1 FROM reservations r
                WHERE r.allocation_id = a.id AND r.status = 'active') AS holding,
        NOT EXISTS (SELECT 1 FROM allocation_lines l
                    WHERE l.allocation_id = a.id AND l.fulfilled < l.quantity) AS done,
        EXISTS (SELECT 1 FROM allocation_lines l
                WHERE l.allocation_id = a.id AND l.fulfilled > 0) AS started
    FROM unnest(CAST(:ids AS uuid[])) AS a(id)
    """
).bindparams(bindparam("ids", type_=_IDS))
_SET_STATUS = text(
    """
    UPDATE allocations AS a SET status = n.status, updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS varchar[])) AS n(id, status)
    WHERE a.id = n.id
    """
).bindparams(bindparam("ids", type_=_IDS), bindparam("statuses", type_=ARRAY(String())))
_BY_IDS = select(Allocation).where(Allocation.id == any_(bindparam("ids", type_=_IDS)))
_LINES_OF = (
    select(AllocationLine)
    .where(AllocationLine.allocation_id == any_(bindparam("ids", type_=_IDS)))
    .order_by(AllocationLine.allocation_id, AllocationLine.position)
)
_PICKS_OF = (
    select(Reservation)
    .where(Reservation.allocation_id == any_(bindparam("ids", type_=_IDS)))
    .order_by(Reservation.allocation_id, Reservation.id)
)


@dataclass(frozen=True, slots=True)
class Source:
    """A location as an allocation weighs it."""

    id: uuid.UUID
    code: str
    is_archived: bool
    is_transit: bool


@dataclass(frozen=True, slots=True)
class Standing:
    """What decides an allocation's status: does a pick still hold stock, is every line
    fulfilled, has any unit been issued."""

    holding: bool
    done: bool
    started: bool


@dataclass(slots=True)
class Loaded:
    """An allocation with its lines (in order) and each line's picks (in pick order)."""

    allocation: Allocation
    lines: list[AllocationLine]
    picks: dict[uuid.UUID, list[Reservation]]


class AllocationRepository(Repository[Allocation]):
    model = Allocation

    async def lock_sources(
        self, named: Collection[uuid.UUID], products: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Source]:
        rows = await self.session.execute(
            _LOCK_SOURCES, {"named": sorted(set(named)), "products": sorted(set(products))}
        )
        return {row.id: Source(row.id, row.code, row.is_archived, row.is_transit) for row in rows}

    async def lock_levels(
        self, products: Collection[uuid.UUID], locations: Collection[uuid.UUID]
    ) -> dict[Pair, LevelState]:
        if not products or not locations:
            return {}
        rows = await self.session.execute(
            _LOCK_LEVELS, {"products": sorted(set(products)), "locations": sorted(set(locations))}
        )
        return {
            (row.product_id, row.location_id): LevelState(int(row.on_hand), int(row.reserved))
            for row in rows
        }

    async def insert(
        self,
        *,
        id_: uuid.UUID,
        reference: str | None,
        expires_in: int,
        created_by: uuid.UUID | None,
        actor: dict[str, Any],
    ) -> tuple[datetime, datetime, datetime]:
        """Insert the allocation (expiring by the database's clock); its expires_at,
        created_at and updated_at."""
        row = (
            await self.session.execute(
                _INSERT_ALLOCATION,
                {
                    "id": id_,
                    "reference": reference,
                    "status": AllocationStatus.ACTIVE.value,
                    "created_by": created_by,
                    "actor": actor,
                    "lifetime": timedelta(seconds=expires_in),
                },
            )
        ).one()
        return row.expires_at, row.created_at, row.updated_at

    async def insert_lines(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(
            insert_rows(_LINES, _LINE_COLUMNS), columns_of(rows, _LINE_COLUMNS)
        )

    async def insert_picks(self, rows: Sequence[dict[str, Any]]) -> dict[uuid.UUID, datetime]:
        """Insert the picks (reservations) in one statement; each one's created_at."""
        made = await self.session.execute(
            insert_rows(Reservation.__table__, PICK_COLUMNS, ("id", "created_at")),
            columns_of(rows, PICK_COLUMNS),
        )
        return {row.id: row.created_at for row in made}

    async def lock(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, AllocationStatus]:
        """Lock the allocations FOR UPDATE in id order (always after their levels); their
        statuses."""
        rows = await self.session.execute(_LOCK, {"ids": sorted(set(ids))})
        return {row.id: AllocationStatus(row.status) for row in rows}

    async def standing(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Standing]:
        rows = await self.session.execute(_STANDING, {"ids": list(ids)})
        return {row.id: Standing(row.holding, row.done, row.started) for row in rows}

    async def set_status(self, statuses: dict[uuid.UUID, AllocationStatus]) -> None:
        if statuses:
            await self.session.execute(
                _SET_STATUS,
                {"ids": list(statuses), "statuses": [s.value for s in statuses.values()]},
            )

    async def load(self, ids: Sequence[uuid.UUID]) -> list[Loaded]:
        """The allocations with their lines and picks (three statements), in `ids` order;
        unknown ids left out."""
        if not ids:
            return []
        params = {"ids": list(ids)}
        options = {"populate_existing": True}
        found = {
            a.id: a
            for a in (await self.session.scalars(_BY_IDS, params, execution_options=options))
        }
        loaded = {i: Loaded(found[i], [], {}) for i in ids if i in found}
        for line in await self.session.scalars(_LINES_OF, params, execution_options=options):
            loaded[line.allocation_id].lines.append(line)
        for pick in await self.session.scalars(_PICKS_OF, params, execution_options=options):
            if pick.allocation_id is not None and pick.allocation_line_id is not None:
                loaded[pick.allocation_id].picks.setdefault(pick.allocation_line_id, []).append(
                    pick
                )
        return list(loaded.values())

    async def add_fulfilled(self, amounts: dict[uuid.UUID, int]) -> None:
        """Add units issued to lines (one statement)."""
        if amounts:
            await self.session.execute(
                _ADD_FULFILLED, {"ids": list(amounts), "amounts": list(amounts.values())}
            )

    async def extend(self, allocation_id: uuid.UUID, expires_in: int) -> None:
        """Move the allocation's expiry, and its active picks', to now() + expires_in."""
        await self.session.execute(
            _EXTEND, {"allocation_id": allocation_id, "lifetime": timedelta(seconds=expires_in)}
        )

    async def is_overdue(self, allocation_id: uuid.UUID) -> bool:
        overdue = await self.session.scalar(
            select(Allocation.expires_at <= func.now()).where(Allocation.id == allocation_id)
        )
        return bool(overdue)

    async def page(
        self, filters: AllocationFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[Allocation]:
        statement: Select[Any] = select(Allocation)
        if filters.status is not None:
            statement = statement.where(Allocation.status == filters.status)
        if filters.reference is not None:
            statement = statement.where(Allocation.reference == filters.reference)
        return await self.paginate(
            statement, order=NEWEST_FIRST, codec=codec, cursor=cursor, limit=limit
        )


_ADD_FULFILLED = text(
    """
    UPDATE allocation_lines AS l SET fulfilled = l.fulfilled + n.amount
    FROM unnest(CAST(:ids AS uuid[]), CAST(:amounts AS bigint[])) AS n(id, amount)
    WHERE l.id = n.id
    """
).bindparams(bindparam("ids", type_=_IDS), bindparam("amounts", type_=ARRAY(BIGINT)))
# One statement for both tables: the allocation and its active picks expire together.
_EXTEND = text(
    """
    WITH moved AS (
        UPDATE allocations SET expires_at = now() + :lifetime,
            updated_at = now()
        WHERE id = :allocation_id
        RETURNING id, expires_at
    )
    UPDATE reservations AS r SET expires_at = moved.expires_at, updated_at = now()
    FROM moved
    WHERE r.allocation_id = moved.id AND r.status = 'active'
    """
).bindparams(
    bindparam("allocation_id", type_=UUID(as_uuid=True)), bindparam("lifetime", type_=Interval())
)
