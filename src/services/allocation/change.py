"""Fulfil, release and extend an allocation.

Each locks the allocation's levels first (found from its picks, read without a lock: an
allocation's picks never change), in the global order, then the allocation itself, then
re-reads it: the order every path keeps (levels, reservations, allocations), so these queue
behind the sweeper, counts and each other instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from src.core.event_types import EventType
from src.core.exceptions import Conflict, NotFound, ValidationFailed
from src.models.allocation import OPEN_STATUSES, AllocationStatus
from src.models.principal import Principal
from src.models.reservation import ReservationStatus
from src.models.stock import Movement, MovementKind
from src.repositories.allocation import AllocationRepository, Loaded
from src.schemas.allocation import (
    AllocationExtend,
    AllocationFulfil,
    AllocationFulfilmentRead,
    AllocationRead,
)
from src.services.allocation.settle import settle
from src.services.allocation.shape import as_read
from src.services.level_keeper import LevelKeeper
from src.services.level_set import LevelSet

NOT_FOUND = "No allocation with this id"


async def _open(keeper: LevelKeeper, allocation_id: uuid.UUID) -> tuple[Loaded, LevelSet]:
    """The allocation, its levels and itself locked, still holding stock; otherwise 404 or
    409 (an overdue one is expired now, and that kept although the request fails)."""
    repository = AllocationRepository(keeper.work.session)
    pairs = await keeper.reservations.pick_levels(allocation_id)
    if not pairs:
        raise NotFound(NOT_FOUND)
    levels = LevelSet(keeper)
    await levels.lock(pairs)
    status = (await repository.lock([allocation_id]))[allocation_id]
    if status not in OPEN_STATUSES:
        raise Conflict(f"The allocation is {status.value}, no longer active")
    if await repository.is_overdue(allocation_id):
        await levels.free_overdue(pairs)
        await levels.write()
        expired = Conflict("The allocation has expired")
        expired.keep_work = True
        raise expired
    return (await repository.load([allocation_id]))[0], levels


def _wanted(loaded: Loaded, data: AllocationFulfil) -> dict[uuid.UUID, int]:
    """Units to issue per line: as asked (422 at the field for a line not of this allocation
    or beyond what it holds), or everything each line still holds."""
    held = {
        line.id: sum(
            p.remaining
            for p in loaded.picks.get(line.id, [])
            if p.status == ReservationStatus.ACTIVE
        )
        for line in loaded.lines
    }
    if data.lines is None:
        return {line_id: units for line_id, units in held.items() if units}
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    for n, item in enumerate(data.lines):
        if item.line_id not in held:
            raise ValidationFailed(
                "No line of this allocation has this id", loc=["body", "lines", n, "line_id"]
            )
        wanted[item.line_id] += item.quantity
        if wanted[item.line_id] > held[item.line_id]:
            raise ValidationFailed(
                f"At most {held[item.line_id]} (what the line still holds)",
                loc=["body", "lines", n, "quantity"],
                type_="less_than_equal",
            )
    return dict(wanted)


async def fulfil(
    keeper: LevelKeeper,
    allocation_id: uuid.UUID,
    data: AllocationFulfil,
    *,
    actor: Principal,
    request_id: str | None,
) -> AllocationFulfilmentRead:
    """Issue what is asked of each line from its picks, in pick order: one `issue` movement
    per pick touched, on hand and reserved lowered together (available unchanged)."""
    loaded, levels = await _open(keeper, allocation_id)
    wanted = _wanted(loaded, data)
    remaining: dict[uuid.UUID, int] = {}
    for line in loaded.lines:
        need = wanted.get(line.id, 0)
        for pick in loaded.picks.get(line.id, []):
            if not need:
                break
            if pick.status != ReservationStatus.ACTIVE:
                continue
            units = min(need, pick.remaining)
            need -= units
            remaining[pick.id] = pick.remaining - units
            pair = (pick.product_id, pick.location_id)
            after = levels.change(pair, on_hand=-units, unreserve=units)
            levels.record(
                Movement(
                    product_id=pick.product_id,
                    location_id=pick.location_id,
                    kind=MovementKind.ISSUE,
                    quantity=-units,
                    balance_after=after.on_hand,
                    reference=loaded.allocation.reference,
                    reservation_id=pick.id,
                    created_by=actor.user_id,
                    actor=actor.actor.as_json(),
                    request_id=request_id,
                ),
                reorder_point=None,
                available_before=after.available,
                level=after,
            )
    taken = await keeper.reservations.take_many(remaining)
    movements = await levels.write()
    for reservation in sorted(taken, key=lambda r: r.id):
        await keeper.emit_reservation(EventType.RESERVATION_FULFILLED, reservation)
    repository = AllocationRepository(keeper.work.session)
    await repository.add_fulfilled(wanted)
    await settle(keeper.work, [allocation_id], ending=AllocationStatus.FULFILLED, announce=False)
    read = as_read((await repository.load([allocation_id]))[0])
    await keeper.work.emit(EventType.ALLOCATION_FULFILLED, read.model_dump(mode="json"))
    return AllocationFulfilmentRead(allocation=read, movements=movements)


async def release(keeper: LevelKeeper, allocation_id: uuid.UUID) -> AllocationRead:
    """Give back what every pick still holds: available again at once."""
    _, levels = await _open(keeper, allocation_id)
    released = await keeper.reservations.release_picks(allocation_id)
    for reservation in released:
        levels.change(
            (reservation.product_id, reservation.location_id), unreserve=reservation.remaining
        )
    await levels.write()
    for reservation in sorted(released, key=lambda r: r.id):
        await keeper.emit_reservation(EventType.RESERVATION_RELEASED, reservation)
    ended = await settle(keeper.work, [allocation_id], ending=AllocationStatus.RELEASED)
    if allocation_id in ended:
        return ended[allocation_id]
    return as_read((await AllocationRepository(keeper.work.session).load([allocation_id]))[0])


async def extend(
    keeper: LevelKeeper, allocation_id: uuid.UUID, data: AllocationExtend
) -> AllocationRead:
    """Move the allocation's expiry, and its active picks', to `expires_in` seconds from now."""
    await _open(keeper, allocation_id)
    repository = AllocationRepository(keeper.work.session)
    await repository.extend(allocation_id, data.expires_in)
    return as_read((await repository.load([allocation_id]))[0])
