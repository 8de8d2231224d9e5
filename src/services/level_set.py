"""Postings of many lines (counts, shipments, receipts, cancellations) in a constant number of
statements, whatever the line count, as batches are made (`src.services.batch`).

The products are locked in one statement and every level in another (`lock_many`, the fixed
(product_id, location_id) order), so nothing else can change them: each line's figures are
then worked out here, in order, from the locked ones. Only at the end is every level changed
in one statement (`change_many`, the sum of its lines) and every ledger row inserted in one
more, each with the balance its line left; the CHECKs still back the figures up. Overdue
reservations on the levels are freed in one statement too. Each of these statements takes its
rows as arrays (`unnest`, `= ANY`), so its SQL is the same for any line count: nothing is
prepared again for a new one (tests/integration/operations/test_round_trips_sizes.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from src.core.event_types import EventType
from src.core.exceptions import Conflict, NotFound
from src.models.allocation import AllocationStatus
from src.models.stock import Movement
from src.repositories.catalog import ProductState
from src.repositories.stock.level import LevelChange, LevelState, Pair
from src.schemas.stock import MovementRead
from src.services.allocation.settle import allocations_of, settle
from src.services.level_keeper import ARCHIVED_PRODUCT, NO_PRODUCT, LevelKeeper, bounded


@dataclass(frozen=True, slots=True)
class _Recorded:
    movement: Movement
    reorder_point: int | None
    available_before: int
    level: LevelState


async def usable_products(
    keeper: LevelKeeper, ids: Iterable[uuid.UUID], *, exclusive: bool = False
) -> dict[uuid.UUID, ProductState]:
    """The products, locked FOR SHARE (or `exclusive`ly against postings, see
    `ProductRepository.lock_many`) in one statement; the first (by id) that does not exist
    is a 404 and the first archived a 409, as `LevelKeeper.usable_product` each."""
    wanted = sorted(set(ids))
    found = await keeper.products.lock_many(wanted, exclusive=exclusive)
    for product_id in wanted:
        product = found.get(product_id)
        if product is None:
            raise NotFound(NO_PRODUCT)
        if product.is_archived:
            raise Conflict(ARCHIVED_PRODUCT)
    return found


class LevelSet:
    """Locked levels changed line by line in memory, then written in two statements."""

    def __init__(self, keeper: LevelKeeper) -> None:
        self.keeper = keeper
        self.figures: dict[Pair, LevelState] = {}
        self.changes: dict[Pair, LevelChange] = {}
        self.recorded: list[_Recorded] = []

    async def lock(self, pairs: Iterable[Pair]) -> None:
        self.figures = await self.keeper.stock.lock_many(list(pairs))

    def adopt(self, figures: dict[Pair, LevelState]) -> None:
        """Work on levels the caller locked by a statement of its own (an allocation locks
        every level of its products at its candidate locations, not given pairs)."""
        self.figures = dict(figures)

    def level(self, pair: Pair) -> LevelState:
        """The level as the lines so far leave it."""
        return self.figures[pair]

    def change(
        self, pair: Pair, *, on_hand: int = 0, unreserve: int = 0, incoming: int = 0
    ) -> LevelState:
        """Change a level by a line's figures; the level after."""
        before = self.figures[pair]
        after = LevelState(before.on_hand + on_hand, before.reserved - unreserve)
        self.figures[pair] = after
        total = self.changes.get(pair, LevelChange())
        self.changes[pair] = LevelChange(
            total.on_hand + on_hand, total.unreserve + unreserve, total.incoming + incoming
        )
        return after

    async def free_overdue(self, pairs: Iterable[Pair]) -> None:
        """Mark the levels' overdue reservations expired (one statement) and free what they
        held, each with its `reservation.expired` event, and settle the allocations they
        were picks of (as `LevelKeeper.expire_overdue`)."""
        expired = await self.keeper.reservations.expire_on_levels(set(pairs))
        for reservation in expired:
            pair = (reservation.product_id, reservation.location_id)
            self.change(pair, unreserve=reservation.remaining)
            await self.keeper.emit_reservation(EventType.RESERVATION_EXPIRED, reservation)
        await settle(self.keeper.work, allocations_of(expired), ending=AllocationStatus.EXPIRED)

    def record(
        self,
        movement: Movement,
        *,
        reorder_point: int | None,
        available_before: int,
        level: LevelState,
    ) -> None:
        """A ledger row to insert with the others (`balance_after` set by the caller)."""
        self.recorded.append(_Recorded(movement, reorder_point, available_before, level))

    async def write(self) -> list[MovementRead]:
        """Every level's change in one statement, every ledger row in one INSERT, and their
        events (as `LevelKeeper.record`), in the order recorded."""
        with bounded():
            await self.keeper.stock.change_many(self.changes)
        await self.keeper.movements.add_all([entry.movement for entry in self.recorded])
        reads = []
        for entry in self.recorded:
            read = MovementRead.model_validate(entry.movement)
            await self.keeper.announce(
                read,
                reorder_point=entry.reorder_point,
                available_before=entry.available_before,
                level=entry.level,
            )
            reads.append(read)
        self.changes, self.recorded = {}, []
        return reads
