"""Reservations: stock promised to an order, held on its level until it ships (fulfil), the
order goes away (release) or time runs out (expiry).

Holding is one conditional statement on the level (`reserved + q` only while `on_hand -
reserved >= q`), never read-then-write; fulfilling lowers `on_hand` and `reserved` together
with the ledger row that explains it. A reservation past `expires_at` holds nothing more:
the sweeper (`expire_overdue_reservations`) marks it expired within
`RESERVATION_SWEEP_SECONDS`, and a posting that finds too little available frees it first.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.core.exceptions import Conflict, InsufficientStock, NotFound, ValidationFailed
from src.models.principal import Principal
from src.models.reservation import Reservation, ReservationStatus
from src.models.stock import Movement, MovementKind
from src.repositories.base import PageResult
from src.repositories.reservation import ReservationRepository
from src.schemas.filter import ReservationFilter
from src.schemas.reservation import ReservationCreate, ReservationFulfil, ReservationRead
from src.schemas.stock import FulfilmentRead
from src.services.level_keeper import LevelKeeper
from src.services.unit_of_work import UnitOfWork

_NOT_FOUND = "No reservation with this id"


class ReservationService:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.levels = LevelKeeper(work)
        self.reservations = self.levels.reservations
        self.stock = self.levels.stock

    async def reserve(self, data: ReservationCreate, *, actor: Principal) -> ReservationRead:
        """Hold stock for an order: 409 insufficient-stock when not enough is available."""
        product = await self.levels.usable_product(data.product_id)
        await self.levels.usable_location(data.location_id)
        level = await self.stock.reserve(data.product_id, data.location_id, data.quantity)
        if level is None:  # see LevelKeeper.take
            await self.levels.expire_overdue(data.product_id, data.location_id)
            level = await self.stock.reserve(data.product_id, data.location_id, data.quantity)
        if level is None:
            available = await self.stock.available(data.product_id, data.location_id)
            raise InsufficientStock(available=available)
        reservation = await self.reservations.add(
            Reservation(
                product_id=data.product_id,
                location_id=data.location_id,
                quantity=data.quantity,
                remaining=data.quantity,
                # The database's clock, as the sweeper's: app servers' clocks may drift.
                expires_at=func.now() + timedelta(seconds=data.expires_in),
                reference=data.reference,
                created_by=actor.user_id,
                actor=actor.actor.as_json(),
            )
        )
        read = await self.levels.emit_reservation(EventType.RESERVATION_CREATED, reservation)
        await self.levels.check_reorder(
            data.product_id,
            data.location_id,
            reorder_point=product.reorder_point,
            available_before=level.available + data.quantity,
            level=level,
        )
        return read

    async def fulfil(
        self,
        reservation_id: uuid.UUID,
        data: ReservationFulfil,
        *,
        actor: Principal,
        request_id: str | None,
    ) -> FulfilmentRead:
        """Issue reserved stock: an `issue` movement that lowers on hand and reserved alike
        (what is available stays as it was); at `remaining` 0 the reservation is fulfilled."""
        reservation = await self._locked(reservation_id)
        quantity = reservation.remaining if data.quantity is None else data.quantity
        if quantity > reservation.remaining:
            raise ValidationFailed(
                f"At most {reservation.remaining} (what the reservation still holds)",
                loc=["body", "quantity"],
                type_="less_than_equal",
            )
        taken = await self.reservations.take(reservation_id, quantity)
        level = await self.stock.decrease(
            reservation.product_id, reservation.location_id, quantity, from_reserved=quantity
        )
        if taken is None or level is None:  # the level's lock makes this impossible
            raise RuntimeError("a locked, active reservation could not be fulfilled")
        movement = await self.levels.record(
            Movement(
                product_id=reservation.product_id,
                location_id=reservation.location_id,
                kind=MovementKind.ISSUE,
                quantity=-quantity,
                balance_after=level.on_hand,
                reference=reservation.reference,
                reservation_id=reservation_id,
                created_by=actor.user_id,
                actor=actor.actor.as_json(),
                request_id=request_id,
            ),
            reorder_point=None,
            available_before=level.available,
            level=level,
        )
        read = await self.levels.emit_reservation(EventType.RESERVATION_FULFILLED, taken)
        return FulfilmentRead(reservation=read, movement=movement)

    async def release(self, reservation_id: uuid.UUID) -> ReservationRead:
        """Give up what the reservation holds: it is available again at once."""
        reservation = await self._locked(reservation_id)
        released = await self.reservations.release(reservation_id)
        if released is None:  # the level's lock makes this impossible
            raise RuntimeError("a locked, active reservation could not be released")
        await self.stock.set_level(
            reservation.product_id, reservation.location_id, delta=0, unreserve=released.remaining
        )
        return await self.levels.emit_reservation(EventType.RESERVATION_RELEASED, released)

    async def get(self, reservation_id: uuid.UUID) -> ReservationRead:
        reservation = await self.reservations.get(reservation_id)
        if reservation is None:
            raise NotFound(_NOT_FOUND)
        return ReservationRead.model_validate(reservation)

    async def page(
        self, filters: ReservationFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[ReservationRead]:
        page = await self.reservations.page(filters, codec=codec, cursor=cursor, limit=limit)
        return PageResult(
            [ReservationRead.model_validate(item) for item in page.items], page.next_cursor
        )

    async def _locked(self, reservation_id: uuid.UUID) -> Reservation:
        """The reservation, locked after its level (the lock order every path keeps), and
        still holding stock, and no allocation's pick; otherwise 404 or 409."""
        found = await self.reservations.get(reservation_id)
        if found is None:
            raise NotFound(_NOT_FOUND)
        if found.allocation_id is not None:
            # The allocation keeps `fulfilled` per line: its picks move only through it.
            raise Conflict(
                f"This reservation is part of allocation {found.allocation_id}: "
                "fulfil or release the allocation"
            )
        await self.stock.lock_levels([(found.product_id, found.location_id)])
        reservation = await self.reservations.get_for_update(reservation_id)
        if reservation is None:  # reservations are never deleted
            raise NotFound(_NOT_FOUND)
        if reservation.status != ReservationStatus.ACTIVE:
            raise Conflict(f"The reservation is {reservation.status.value}, no longer active")
        if await self.reservations.is_overdue(reservation_id):
            # Expired now rather than at the next sweep, and kept although the request
            # fails: whoever asked sees it expired at once, and its stock is free.
            await self.levels.expire_overdue(reservation.product_id, reservation.location_id)
            expired = Conflict("The reservation has expired")
            expired.keep_work = True
            raise expired
        return reservation


async def expire_overdue_reservations(
    session_factory: async_sessionmaker[AsyncSession], *, batch: int
) -> int:
    """Mark overdue reservations expired and free their stock, a level per transaction (with
    their `reservation.expired` events), `batch` levels at a time until none is due; how
    many levels were done. A level another transaction holds is skipped (FOR UPDATE SKIP
    LOCKED) for the rest of the pass: it is done on the next sweep or by that transaction
    itself, so any number of processes may sweep at once."""
    skipped: set[tuple[uuid.UUID, uuid.UUID]] = set()
    done = 0
    while True:
        async with session_factory() as session:
            due = await ReservationRepository(session).overdue_levels(batch, skip=skipped)
        if not due:  # (a short batch proves nothing: many reservations may share a level)
            return done
        for product_id, location_id in due:
            async with session_factory() as session:
                work = UnitOfWork(session)
                keeper = LevelKeeper(work)
                if await keeper.stock.try_lock(
                    product_id, location_id
                ) and await keeper.expire_overdue(product_id, location_id):
                    done += 1
                else:  # held elsewhere (or freed meanwhile): not again in this pass
                    skipped.add((product_id, location_id))
                await work.commit()
