"""`settle`: an allocation's status, kept true by every path that ends or shrinks a pick (the
sweeper and every "free overdue reservations" path, counts, the allocation's own fulfil and
release).

Status from lines and picks: while a pick still holds stock, `partially_fulfilled` once any
unit was issued, else `active`. Once none does: `fulfilled` when every line is, otherwise
what the path that took the last held units names (`ending`): `fulfilled` by a fulfilment
(it issued all that was left, a count having cut the rest), `released` by the release
endpoint or a count, `expired` by expiry. A change to one of those three emits its event
once: the allocations are locked FOR UPDATE (in id order, always after their levels), and
their figures read in a statement of its own after the lock, so two transactions ending
picks of one allocation on different levels are decided one after the other, the second
seeing the first's work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from src.core.event_types import EventType
from src.models.allocation import AllocationStatus
from src.models.reservation import Reservation
from src.repositories.allocation import AllocationRepository, Standing
from src.schemas.allocation import AllocationRead
from src.services.allocation.shape import as_read
from src.services.unit_of_work import UnitOfWork

_EVENTS = {
    AllocationStatus.FULFILLED: EventType.ALLOCATION_FULFILLED,
    AllocationStatus.RELEASED: EventType.ALLOCATION_RELEASED,
    AllocationStatus.EXPIRED: EventType.ALLOCATION_EXPIRED,
}


def allocations_of(reservations: Iterable[Reservation]) -> set[uuid.UUID]:
    """The allocations whose picks are among these reservations (none for plain ones)."""
    return {r.allocation_id for r in reservations if r.allocation_id is not None}


def status_of(standing: Standing, ending: AllocationStatus) -> AllocationStatus:
    if standing.holding:
        return AllocationStatus.PARTIALLY_FULFILLED if standing.started else AllocationStatus.ACTIVE
    return AllocationStatus.FULFILLED if standing.done else ending


async def settle(
    work: UnitOfWork,
    allocation_ids: Iterable[uuid.UUID],
    *,
    ending: AllocationStatus,
    announce: bool = True,
) -> dict[uuid.UUID, AllocationRead]:
    """Recompute the allocations' statuses, `ending` for those this path leaves holding
    nothing (and not every line fulfilled); emit `allocation.<status>` for each that just
    ended (unless `announce` is False: the caller emits its own). The allocations that just
    ended, as read after the change. Nothing at all when there are none."""
    ids = sorted(set(allocation_ids))
    if not ids:
        return {}
    repository = AllocationRepository(work.session)
    before = await repository.lock(ids)
    standing = await repository.standing(list(before))
    after = {i: status_of(s, ending) for i, s in standing.items()}
    changed = {i: status for i, status in after.items() if status != before[i]}
    await repository.set_status(changed)
    ended = [i for i, status in changed.items() if status in _EVENTS]
    reads = {loaded.allocation.id: as_read(loaded) for loaded in await repository.load(ended)}
    if announce:
        for allocation_id in ended:
            read = reads[allocation_id]
            await work.emit(_EVENTS[read.status], read.model_dump(mode="json"))
    return reads
