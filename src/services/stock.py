"""Posting stock: movements, transfers, counts and batches.

Every change to a level is one conditional statement in the request's transaction, together
with the ledger row that explains it (`src.services.level_keeper`), so the invariants
"on_hand = sum of the ledger" and "0 <= reserved <= on_hand" hold at every commit, under any
concurrency. Postings take only what is available: reserved stock leaves by fulfilment
alone, or when a count finds it gone.
"""

from __future__ import annotations

import uuid

from src.core.event_types import EventType
from src.core.exceptions import Conflict, InsufficientStock, NotFound
from src.core.ids import new_id
from src.models.allocation import AllocationStatus
from src.models.principal import Principal
from src.models.stock import AdjustmentReason, Movement, MovementKind
from src.repositories.stock.level import LevelRepository, LevelState, Pair
from src.schemas.actor import ActorRead
from src.schemas.reservation import ReservationRead
from src.schemas.stock import (
    BatchCreate,
    BatchRead,
    CountCreate,
    CountRead,
    MovementCreate,
    MovementRead,
    TransferCreate,
    TransferRead,
)
from src.services.allocation.settle import allocations_of, settle
from src.services.batch import BatchPoster
from src.services.level_keeper import (
    ARCHIVED_LOCATION,
    ARCHIVED_PRODUCT,
    NO_LOCATION,
    NO_PRODUCT,
    TRANSIT_LOCATION,
    LevelKeeper,
    bounded,
)
from src.services.level_set import LevelSet, usable_products
from src.services.unit_of_work import UnitOfWork


class StockService:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        session = self.session = work.session
        self.stock = LevelRepository(session)
        self.levels = LevelKeeper(work)

    # ---------------------------------------------------------------- public operations
    # Each returns what it created; the caller decides how to answer (and remembers it for
    # an Idempotency-Key through the unit of work).

    async def post_movement(
        self, data: MovementCreate, *, actor: Principal, request_id: str | None
    ) -> MovementRead:
        """One statement checks, locks, applies and records (`LevelRepository.post`); on
        failure, the reason is read from what it returned. A decrease that finds too little
        available first frees what the level's overdue reservations held, then tries once
        more. With `expected_on_hand`, the checked path of `src.services.batch` instead."""
        if data.expected_on_hand is not None:
            return await BatchPoster(self.levels).post_expecting(
                data, actor=actor, request_id=request_id
            )
        values = {
            "id": new_id(),
            "product_id": data.product_id,
            "location_id": data.location_id,
            "kind": data.kind,
            "quantity": data.delta,
            "reason": data.reason,
            "reference": data.reference,
            "note": data.note,
            "created_by": actor.user_id,
            "actor": actor.actor.as_json(),
            "request_id": request_id,
        }
        with bounded():
            row = await self.stock.post(values)
        if row.found_product is None:
            raise NotFound(NO_PRODUCT)
        if row.product_archived:
            raise Conflict(ARCHIVED_PRODUCT)
        if row.found_location is None:
            raise NotFound(NO_LOCATION)
        if row.location_archived:
            raise Conflict(ARCHIVED_LOCATION)
        if row.location_transit:
            raise Conflict(TRANSIT_LOCATION)
        if row.id is None:  # see LevelKeeper.take
            await self.levels.expire_overdue(data.product_id, data.location_id)
            row = await self.stock.post(values)
        if row.id is None:
            available = await self.stock.available(data.product_id, data.location_id)
            raise InsufficientStock(available=available)
        read = MovementRead.model_validate(row)
        level = LevelState(read.balance_after, row.reserved)
        await self.levels.announce(
            read,
            reorder_point=row.reorder_point,
            available_before=level.available - read.quantity,
            level=level,
        )
        return read

    async def transfer(
        self, data: TransferCreate, *, actor: Principal, request_id: str | None
    ) -> TransferRead:
        """Both legs or neither: the two levels locked in a fixed order first, so opposite
        transfers queue instead of deadlocking."""
        product = await self.levels.usable_product(data.product_id)
        await self.levels.usable_location(data.from_location_id)
        await self.levels.usable_location(data.to_location_id)
        source = (data.product_id, data.from_location_id)
        target = (data.product_id, data.to_location_id)
        await self.stock.lock_levels([source, target])
        source_after = await self.levels.take(
            *source, data.quantity, detail="Not enough stock available at the source location"
        )
        target_after = await self.levels.put(*target, data.quantity)
        transfer_id = new_id()
        legs = []
        for (product_id, location_id), delta, kind, after in [
            (source, -data.quantity, MovementKind.ISSUE, source_after),
            (target, data.quantity, MovementKind.RECEIPT, target_after),
        ]:
            movement = Movement(
                product_id=product_id,
                location_id=location_id,
                kind=kind,
                quantity=delta,
                balance_after=after.on_hand,
                reference=data.reference,
                transfer_id=transfer_id,
                created_by=actor.user_id,
                actor=actor.actor.as_json(),
                request_id=request_id,
            )
            legs.append(
                await self.levels.record(
                    movement,
                    reorder_point=product.reorder_point,
                    available_before=after.available - delta,
                    level=after,
                )
            )
        return TransferRead(
            transfer_id=transfer_id, movements=legs, actor=ActorRead.of(actor.actor)
        )

    async def post_batch(
        self, data: BatchCreate, *, actor: Principal, request_id: str | None
    ) -> BatchRead:
        """Several movements, all or nothing (`src.services.batch`)."""
        return await BatchPoster(self.levels).post_batch(data, actor=actor, request_id=request_id)

    async def count(
        self, data: CountCreate, *, actor: Principal, request_id: str | None
    ) -> CountRead:
        """One `count` adjustment per line that differs from on hand, all or nothing. A count
        is a fact: where it finds fewer units than are reserved, the newest reservations
        there shrink until what is reserved fits. A constant number of statements whatever
        the line count (`src.services.level_set`)."""
        at = data.location_id
        await self.levels.usable_location(at)
        products = await usable_products(self.levels, (line.product_id for line in data.lines))
        levels = LevelSet(self.levels)
        await levels.lock((line.product_id, at) for line in data.lines)
        before = {line.product_id: levels.level((line.product_id, at)) for line in data.lines}
        counted = {line.product_id: line.counted for line in data.lines}
        shortened, freed = await self._fit_reservations(levels, at, counted)
        count_id = new_id()
        for line in data.lines:
            pair, on_hand = (line.product_id, at), before[line.product_id].on_hand
            if on_hand == line.counted:
                continue
            # What active reservations held once overdue ones were freed, before any cut.
            reserved_before = freed.get(pair, before[line.product_id].reserved)
            after = levels.change(pair, on_hand=line.counted - on_hand)
            levels.record(
                Movement(
                    product_id=line.product_id,
                    location_id=at,
                    kind=MovementKind.ADJUSTMENT,
                    reason=AdjustmentReason.COUNT,
                    quantity=line.counted - on_hand,
                    balance_after=after.on_hand,
                    count_id=count_id,
                    reference=data.reference,
                    note=data.note,
                    created_by=actor.user_id,
                    actor=actor.actor.as_json(),
                    request_id=request_id,
                ),
                reorder_point=products[line.product_id].reorder_point,
                available_before=on_hand - reserved_before,
                level=after,
            )
        adjustments = await levels.write()
        return CountRead(
            count_id=count_id,
            movements=adjustments,
            actor=ActorRead.of(actor.actor),
            reservations_shortened=shortened,
        )

    # ---------------------------------------------------------------- helpers

    async def _fit_reservations(
        self, levels: LevelSet, at: uuid.UUID, counted: dict[uuid.UUID, int]
    ) -> tuple[list[ReservationRead], dict[Pair, int]]:
        """Where a count finds fewer units than are reserved: free the overdue reservations
        there, then shrink the newest until what is reserved fits (in line order, each
        level's newest first). The reservations shortened, and those levels' reserved once
        overdue ones were freed (before any cut). A few statements in all."""
        over = [(p, at) for p, n in counted.items() if levels.level((p, at)).reserved > n]
        if not over:
            return [], {}
        await levels.free_overdue(over)
        freed = {pair: levels.level(pair).reserved for pair in over}
        still = [pair for pair in over if levels.level(pair).reserved > counted[pair[0]]]
        excess = {pair: levels.level(pair).reserved - counted[pair[0]] for pair in still}
        cuts: dict[Pair, list[tuple[uuid.UUID, int]]] = {pair: [] for pair in still}
        for reservation in await self.levels.reservations.holding_on_levels(still):
            pair = (reservation.product_id, reservation.location_id)
            take = min(reservation.remaining, excess[pair])
            if take:
                excess[pair] -= take
                cuts[pair].append((reservation.id, reservation.remaining - take))
                levels.change(pair, unreserve=take)
        remaining = {rid: left for pair in still for rid, left in cuts[pair]}
        changed = {r.id: r for r in await self.levels.reservations.shorten_many(remaining)}
        shortened = [
            await self.levels.emit_reservation(EventType.RESERVATION_RELEASED, changed[rid])
            for rid in remaining
        ]
        # A pick cut to 0 is released: its allocation may have ended with it.
        await settle(self.work, allocations_of(changed.values()), ending=AllocationStatus.RELEASED)
        return shortened, freed
