"""Changing levels, for every service that posts stock: take from what is available, put
back, free what overdue reservations held, and record each change in the ledger with its
events.

Lock order, everywhere: a level's row before any reservation's on it (and several levels in
(product_id, location_id) order), so concurrent postings, fulfilments, counts and the
sweeper queue instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError

from src.core.after_commit import after_commit
from src.core.db_errors import sqlstate
from src.core.event_types import EventType
from src.core.exceptions import Conflict, InsufficientStock, NotFound
from src.core.metrics import MOVEMENTS
from src.models.allocation import AllocationStatus
from src.models.catalog import Location, Product
from src.models.stock import Movement
from src.repositories.base import violated_constraint
from src.repositories.catalog import LocationRepository, ProductRepository
from src.repositories.reservation import ReservationRepository
from src.repositories.stock.level import LevelRepository, LevelState
from src.repositories.stock.movement import MovementRepository
from src.schemas.reservation import ReservationRead
from src.schemas.stock import MovementRead
from src.services.allocation.settle import allocations_of, settle
from src.services.unit_of_work import UnitOfWork

_NUMERIC_OUT_OF_RANGE = "22003"
NO_PRODUCT, NO_LOCATION = "No product with this id", "No location with this id"
ARCHIVED_PRODUCT = "The product is archived and accepts no movements"
ARCHIVED_LOCATION = "The location is archived and accepts no movements"
TRANSIT_LOCATION = "Stock enters and leaves the transit location through shipments only"
TOO_MUCH = "On-hand stock would exceed 1e12 units at this location"


class LevelKeeper:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.stock = LevelRepository(work.session)
        self.movements = MovementRepository(work.session)
        self.reservations = ReservationRepository(work.session)
        self.products = ProductRepository(work.session)
        self.locations = LocationRepository(work.session)

    async def usable_product(self, product_id: uuid.UUID) -> Product:
        """The product, locked FOR SHARE (archiving locks it FOR UPDATE) and not archived."""
        product: Product | None = await self.products.get_locked(product_id, exclusive=False)
        if product is None:
            raise NotFound(NO_PRODUCT)
        if product.is_archived:
            raise Conflict(ARCHIVED_PRODUCT)
        return product

    async def usable_location(self, location_id: uuid.UUID) -> Location:
        """The location, locked FOR SHARE and not archived."""
        location: Location | None = await self.locations.get_locked(location_id, exclusive=False)
        return check_usable_location(location)

    async def take(
        self,
        product_id: uuid.UUID,
        location_id: uuid.UUID,
        amount: int,
        *,
        detail: str | None = None,
    ) -> LevelState:
        """Take `amount` from what the level has available; when it is short, first free what
        its overdue reservations held, then try once more (even when this request freed
        nothing: waiting for the level's lock, it may have let another request free it).
        The level after."""
        level = await self.stock.decrease(product_id, location_id, amount)
        if level is None:
            await self.expire_overdue(product_id, location_id)
            level = await self.stock.decrease(product_id, location_id, amount)
        if level is None:
            available = await self.stock.available(product_id, location_id)
            raise InsufficientStock(detail, available=available)
        return level

    async def put(self, product_id: uuid.UUID, location_id: uuid.UUID, amount: int) -> LevelState:
        """Add `amount` to the level (creating it); the level after."""
        with bounded():
            return await self.stock.increase(product_id, location_id, amount)

    async def expire_overdue(self, product_id: uuid.UUID, location_id: uuid.UUID) -> int:
        """Mark the level's overdue reservations expired and free what they held, each with
        its `reservation.expired` event, and settle the allocations they were picks of; the
        units freed."""
        await self.stock.lock_levels([(product_id, location_id)])
        expired = await self.reservations.expire_on_level(product_id, location_id)
        freed = sum(reservation.remaining for reservation in expired)
        if freed:
            await self.stock.set_level(product_id, location_id, delta=0, unreserve=freed)
        for reservation in expired:
            await self.emit_reservation(EventType.RESERVATION_EXPIRED, reservation)
        await settle(self.work, allocations_of(expired), ending=AllocationStatus.EXPIRED)
        return freed

    async def record(
        self,
        movement: Movement,
        *,
        reorder_point: int | None,
        available_before: int,
        level: LevelState,
    ) -> MovementRead:
        """Insert a ledger row with its events (see `announce`)."""
        await self.movements.add(movement)
        read = MovementRead.model_validate(movement)
        await self.announce(
            read, reorder_point=reorder_point, available_before=available_before, level=level
        )
        return read

    async def announce(
        self,
        read: MovementRead,
        *,
        reorder_point: int | None,
        available_before: int,
        level: LevelState,
    ) -> None:
        """The events of a ledger row: `movement.created`, and `level.below_reorder` when the
        change takes what is available from at-or-above the reorder point to below it (None:
        the change leaves what is available as it was); the row is counted in the metrics
        once committed."""
        after_commit(self.work.session, MOVEMENTS.labels(read.kind.value).inc)
        await self.work.emit(EventType.MOVEMENT_CREATED, read.model_dump(mode="json"))
        if reorder_point is None:
            return
        await self.check_reorder(
            read.product_id,
            read.location_id,
            reorder_point=reorder_point,
            available_before=available_before,
            level=level,
        )

    async def check_reorder(
        self,
        product_id: uuid.UUID,
        location_id: uuid.UUID,
        *,
        reorder_point: int,
        available_before: int,
        level: LevelState,
    ) -> None:
        if available_before >= reorder_point > level.available:
            await self.work.emit(
                EventType.LEVEL_BELOW_REORDER,
                {
                    "product_id": str(product_id),
                    "location_id": str(location_id),
                    "on_hand": level.on_hand,
                    "available": level.available,
                    "reorder_point": reorder_point,
                },
            )

    async def emit_reservation(self, type_: EventType, reservation: object) -> ReservationRead:
        read = ReservationRead.model_validate(reservation)
        await self.work.emit(type_, read.model_dump(mode="json"))
        return read


class _Place(Protocol):
    @property
    def is_archived(self) -> bool: ...
    @property
    def is_transit(self) -> bool: ...


_PlaceT = TypeVar("_PlaceT", bound=_Place)


def check_usable_location(location: _PlaceT | None) -> _PlaceT:
    """Where stock may be posted: a location that exists (404), is active and is not the
    transit location (409)."""
    if location is None:
        raise NotFound(NO_LOCATION)
    if location.is_archived:
        raise Conflict(ARCHIVED_LOCATION)
    if location.is_transit:
        raise Conflict(TRANSIT_LOCATION)
    return location


@contextmanager
def bounded() -> Iterator[None]:
    """A level pushed past its bound (1e12) is a conflict, not a server error."""
    try:
        yield
    except DBAPIError as exc:
        if (
            sqlstate(exc) == _NUMERIC_OUT_OF_RANGE
            or violated_constraint(exc) == "ck_stock_levels_on_hand_within_bounds"
        ):
            raise Conflict(TOO_MUCH) from None
        raise
