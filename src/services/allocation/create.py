"""`allocate`: hold every line of an order at once, or nothing (409 with `shortages`).

A constant number of statements whatever the line count: products locked against postings
in one (FOR NO KEY UPDATE), the named locations and those holding a level of the products
FOR SHARE in one, every candidate level FOR UPDATE in one (the global (product_id,
location_id) order, so competing orders queue instead of deadlocking), their overdue
reservations freed in one; the plan is made in memory
(`src.services.allocation.plan`); then the allocation, its lines and its picks
(reservations) are inserted in one statement each and the levels' `reserved` raised in one.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from src.core.event_types import EventType
from src.core.ids import new_id
from src.models.allocation import AllocationStatus
from src.models.principal import Principal
from src.models.reservation import ReservationStatus
from src.repositories.allocation import AllocationRepository, Source
from src.repositories.stock.level import LevelState, Pair
from src.schemas.actor import ActorRead
from src.schemas.allocation import AllocationCreate, AllocationLineRead, AllocationRead, PickRead
from src.schemas.reservation import ReservationRead
from src.services.allocation.plan import Planner, Want
from src.services.level_keeper import LevelKeeper, check_usable_location
from src.services.level_set import LevelSet, usable_products


def check_named(data: AllocationCreate, sources: dict[uuid.UUID, Source]) -> None:
    """Pins (in line order), then preferred locations (in order): each must exist (404),
    be active and not the transit location (409), as `LevelKeeper.usable_location`."""
    named = [line.location_id for line in data.lines if line.location_id is not None]
    for location_id in [*named, *data.locations]:
        check_usable_location(sources.get(location_id))


async def allocate(
    keeper: LevelKeeper, data: AllocationCreate, *, actor: Principal
) -> AllocationRead:
    repository = AllocationRepository(keeper.work.session)
    # Exclusive: a posting in flight that adds stock where the product has no level yet (a
    # transfer, a receipt) commits first, and none starts until this one is done, so the
    # sources read next are every place the product is and stays, not a snapshot that a
    # lock wait could outdate.
    products = await usable_products(
        keeper, (line.product_id for line in data.lines), exclusive=True
    )
    pinned = {line.location_id for line in data.lines if line.location_id is not None}
    loose = {line.product_id for line in data.lines if line.location_id is None}
    sources = await repository.lock_sources(pinned | set(data.locations), loose)
    check_named(data, sources)
    levels = LevelSet(keeper)
    levels.adopt(await repository.lock_levels(products, sources))
    await levels.free_overdue(levels.figures)
    before = dict(levels.figures)
    planner = Planner(sources, {p: s.available for p, s in before.items()}, data.locations)
    wants = [Want(line.product_id, line.quantity, line.location_id) for line in data.lines]
    picks = planner.plan(wants, split=data.split, single_location=data.single_location)

    allocation_id = new_id()
    expires_at, created_at, updated_at = await repository.insert(
        id_=allocation_id,
        reference=data.reference,
        expires_in=data.expires_in,
        created_by=actor.user_id,
        actor=actor.actor.as_json(),
    )
    line_ids = [new_id() for _ in data.lines]
    await repository.insert_lines(
        [
            {
                "id": line_ids[n],
                "allocation_id": allocation_id,
                "position": n,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "fulfilled": 0,
            }
            for n, line in enumerate(data.lines)
        ]
    )
    # Ids sorted in pick order: the picks are read back by id.
    pick_ids = iter(sorted(new_id() for line in picks for _ in line))
    actor_text = orjson.dumps(actor.actor.as_json()).decode()
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(data.lines):
        for location_id, units in picks[n]:
            rows.append(
                {
                    "id": next(pick_ids),
                    "product_id": line.product_id,
                    "location_id": location_id,
                    "quantity": units,
                    "remaining": units,
                    "status": ReservationStatus.ACTIVE.value,
                    "expires_at": expires_at,
                    "reference": data.reference,
                    "created_by": actor.user_id,
                    "actor": actor_text,
                    "allocation_id": allocation_id,
                    "allocation_line_id": line_ids[n],
                }
            )
            levels.change((line.product_id, location_id), unreserve=-units)
    made = await repository.insert_picks(rows)
    await levels.write()

    for row in rows:
        stamp = made[row["id"]]
        await keeper.work.emit(
            EventType.RESERVATION_CREATED,
            ReservationRead.model_validate(
                {**row, "actor": actor.actor.as_json(), "created_at": stamp, "updated_at": stamp}
            ).model_dump(mode="json"),
        )
    touched: dict[Pair, None] = dict.fromkeys((r["product_id"], r["location_id"]) for r in rows)
    for pair in touched:
        after: LevelState = levels.level(pair)
        await keeper.check_reorder(
            *pair,
            reorder_point=products[pair[0]].reorder_point,
            available_before=before[pair].available,
            level=after,
        )
    read = AllocationRead(
        id=allocation_id,
        reference=data.reference,
        status=AllocationStatus.ACTIVE,
        expires_at=expires_at,
        lines=[
            AllocationLineRead(
                id=line_ids[n],
                product_id=line.product_id,
                quantity=line.quantity,
                fulfilled=0,
                picks=[
                    PickRead(
                        location_id=r["location_id"], reservation_id=r["id"], quantity=r["quantity"]
                    )
                    for r in rows
                    if r["allocation_line_id"] == line_ids[n]
                ],
            )
            for n, line in enumerate(data.lines)
        ],
        created_by=actor.user_id,
        actor=ActorRead.of(actor.actor),
        created_at=created_at,
        updated_at=updated_at,
    )
    await keeper.work.emit(EventType.ALLOCATION_CREATED, read.model_dump(mode="json"))
    return read
