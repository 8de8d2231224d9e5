"""`seed-demo`'s reservations and shipments, made through the services themselves (one
committed unit of work each, as requests would), so every rule holds for them: reservations
take only available stock, shipments leave through the transit location.

They follow the run's ledger, on the run's own levels: some reservations with expiries from an
hour to a week, and some shipments between the run's locations, a few partly received and
one canceled.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from src.cli.seed_data import DEMO_NAME
from src.core.database import build_session_factory
from src.core.exceptions import DomainError
from src.models.principal import Principal
from src.models.stock import StockLevel
from src.models.user import ActiveUser, Role
from src.schemas.reservation import ReservationCreate
from src.schemas.shipment import (
    ShipmentCreate,
    ShipmentLineCreate,
    ShipmentLineReceipt,
    ShipmentReceipt,
)
from src.services.reservation import ReservationService
from src.services.shipment import ShipmentService
from src.services.unit_of_work import UnitOfWork

_EXPIRIES = (3600, 6 * 3600, 86_400, 7 * 86_400)


async def seed_availability(
    url: str,
    *,
    location_ids: Sequence[uuid.UUID],
    actor_id: uuid.UUID,
    tag: str,
    reservations: int,
    shipments: int,
    rng: random.Random,
) -> tuple[int, int]:
    """(reservations made, shipments made) on the levels at `location_ids`."""
    engine = create_async_engine(url)
    try:
        factory = build_session_factory(engine)
        now = datetime.now(UTC)
        actor = Principal.of_user(
            ActiveUser(actor_id, "", DEMO_NAME, Role.CLERK, True, None, now, now)
        )
        made_reservations = 0
        for index in range(reservations):
            level = await _pick(factory, location_ids, rng, at_least=1)
            if level is None:
                break
            product_id, location_id, available = level
            body = ReservationCreate(
                product_id=product_id,
                location_id=location_id,
                quantity=rng.randint(1, max(1, min(available // 4, 20))),
                expires_in=rng.choice(_EXPIRIES),
                reference=f"SO-{tag}-{index + 1:04d}",
            )
            made_reservations += await _run(
                factory,
                actor,
                lambda work, b=body: ReservationService(work).reserve(b, actor=actor),
            )
        made_shipments = 0
        for index in range(shipments if len(location_ids) > 1 else 0):
            made_shipments += await _ship(factory, location_ids, actor, tag, index, rng)
        return made_reservations, made_shipments
    finally:
        await engine.dispose()


async def _ship(
    factory: async_sessionmaker[AsyncSession],
    location_ids: Sequence[uuid.UUID],
    actor: Principal,
    tag: str,
    index: int,
    rng: random.Random,
) -> int:
    level = await _pick(factory, location_ids, rng, at_least=2)
    if level is None:
        return 0
    product_id, source, available = level
    target = rng.choice([location for location in location_ids if location != source])
    quantity = rng.randint(1, available // 2)
    body = ShipmentCreate(
        from_location_id=source,
        to_location_id=target,
        lines=[ShipmentLineCreate(product_id=product_id, quantity=quantity)],
        reference=f"TO-{tag}-{index + 1:04d}",
    )
    shipped: list[Any] = []

    async def create(work: UnitOfWork) -> Any:
        shipped.append(await ShipmentService(work).ship(body, actor=actor, request_id=None))

    if not await _run(factory, actor, create):
        return 0
    shipment_id = shipped[0].id
    if index % 3 == 1:  # some arrive in part, one unit damaged where there is more than one
        damaged = 1 if quantity > 2 else 0
        receipt = ShipmentReceipt(
            lines=[
                ShipmentLineReceipt(
                    product_id=product_id, received=max(1, quantity // 2), damaged=damaged
                )
            ]
        )
        await _run(
            factory,
            actor,
            lambda work: ShipmentService(work).receive(
                shipment_id, receipt, if_match=None, actor=actor, request_id=None
            ),
        )
    elif index % 5 == 4:
        await _run(
            factory,
            actor,
            lambda work: ShipmentService(work).cancel(
                shipment_id, if_match=None, actor=actor, request_id=None
            ),
        )
    return 1


async def _pick(
    factory: async_sessionmaker[AsyncSession],
    location_ids: Sequence[uuid.UUID],
    rng: random.Random,
    *,
    at_least: int,
) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    """A random level of the run with at least `at_least` available."""
    async with factory() as session:
        rows = (
            await session.execute(
                select(
                    StockLevel.product_id,
                    StockLevel.location_id,
                    StockLevel.on_hand - StockLevel.reserved,
                )
                .where(
                    StockLevel.location_id.in_(location_ids),
                    StockLevel.on_hand - StockLevel.reserved >= at_least,
                )
                .order_by(StockLevel.product_id, StockLevel.location_id)
            )
        ).all()
    if not rows:
        return None
    product_id, location_id, available = rng.choice(rows)
    return product_id, location_id, int(available)


async def _run(factory: async_sessionmaker[AsyncSession], actor: Principal, step: Any) -> int:
    """Run `step(work)` in a unit of work acting as `actor` (its events name it, as a
    request's do) and commit: 1, or 0 when a rule refused it."""
    async with factory() as session:
        work = UnitOfWork(session)
        work.actor = actor.actor
        try:
            await step(work)
        except DomainError:
            await work.rollback()
            return 0
        await work.commit()
        return 1
