"""Posting stock: movements, transfers and counts.

Every change to a level is one conditional statement (`increase`, `decrease`) in the
request's transaction, together with the ledger row that explains it, so the invariant
"on_hand = sum of the ledger, never negative" holds at every commit, under any concurrency.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from src.core.after_commit import after_commit
from src.core.db_errors import sqlstate
from src.core.event_types import EventType
from src.core.exceptions import Conflict, InsufficientStock, NotFound
from src.core.ids import new_id
from src.core.metrics import MOVEMENTS
from src.models.catalog import Location, Product
from src.models.stock import AdjustmentReason, Movement, MovementKind
from src.models.user import ActiveUser
from src.repositories.base import violated_constraint
from src.repositories.catalog import LocationRepository, ProductRepository
from src.repositories.stock import MovementRepository, StockRepository
from src.schemas.stock import (
    CountCreate,
    CountRead,
    MovementCreate,
    MovementRead,
    TransferCreate,
    TransferRead,
)
from src.services.unit_of_work import UnitOfWork

_NUMERIC_OUT_OF_RANGE = "22003"
_ARCHIVED_PRODUCT = "The product is archived and accepts no movements"
_ARCHIVED_LOCATION = "The location is archived and accepts no movements"


class StockService:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        session = self.session = work.session
        self.products = ProductRepository(session)
        self.locations = LocationRepository(session)
        self.stock = StockRepository(session)
        self.movements = MovementRepository(session)

    # ---------------------------------------------------------------- public operations
    # Each returns what it created; the caller decides how to answer (and remembers it for
    # an Idempotency-Key through the unit of work).

    async def post_movement(
        self, data: MovementCreate, *, actor: ActiveUser, request_id: str | None
    ) -> MovementRead:
        """One statement checks, locks, applies and records (`StockRepository.post`); on
        failure, the reason is read from what it returned (and, for a shortfall, what is
        available from one more query)."""
        values = {
            "id": new_id(),
            "product_id": data.product_id,
            "location_id": data.location_id,
            "kind": data.kind,
            "quantity": data.delta,
            "reason": data.reason,
            "reference": data.reference,
            "note": data.note,
            "created_by": actor.id,
            "request_id": request_id,
        }
        with self._bounded():
            row = await self.stock.post(values)
        if row.found_product is None:
            raise NotFound("No product with this id")
        if row.product_archived:
            raise Conflict(_ARCHIVED_PRODUCT)
        if row.found_location is None:
            raise NotFound("No location with this id")
        if row.location_archived:
            raise Conflict(_ARCHIVED_LOCATION)
        if row.id is None:
            available = await self.stock.available(data.product_id, data.location_id)
            raise InsufficientStock(available=available)
        read = MovementRead.model_validate(row)
        await self._announce(read, row.reorder_point)
        return read

    async def transfer(
        self, data: TransferCreate, *, actor: ActiveUser, request_id: str | None
    ) -> TransferRead:
        transfer_id, legs = await self._transfer(data, actor=actor, request_id=request_id)
        return TransferRead(
            transfer_id=transfer_id, movements=[MovementRead.model_validate(m) for m in legs]
        )

    async def count(
        self, data: CountCreate, *, actor: ActiveUser, request_id: str | None
    ) -> CountRead:
        count_id, adjustments = await self._count(data, actor=actor, request_id=request_id)
        return CountRead(
            count_id=count_id, movements=[MovementRead.model_validate(m) for m in adjustments]
        )

    # ---------------------------------------------------------------- the postings

    async def _transfer(
        self, data: TransferCreate, *, actor: ActiveUser, request_id: str | None
    ) -> tuple[uuid.UUID, list[Movement]]:
        product = await self._usable_product(data.product_id)
        await self._usable_location(data.from_location_id)
        await self._usable_location(data.to_location_id)
        source = (data.product_id, data.from_location_id)
        target = (data.product_id, data.to_location_id)
        # Both levels locked in a fixed order first: opposite transfers queue, never deadlock.
        locked = await self.stock.lock_levels([source, target])
        if locked[source] < data.quantity:
            raise InsufficientStock(
                "Not enough stock at the source location", available=locked[source]
            )
        transfer_id = new_id()
        legs = []
        for (product_id, location_id), delta, kind in [
            (source, -data.quantity, MovementKind.ISSUE),
            (target, data.quantity, MovementKind.RECEIPT),
        ]:
            balance = await self._apply(product_id, location_id, delta)
            legs.append(
                await self._record(
                    product.reorder_point,
                    Movement(
                        product_id=product_id,
                        location_id=location_id,
                        kind=kind,
                        quantity=delta,
                        balance_after=balance,
                        reference=data.reference,
                        transfer_id=transfer_id,
                        created_by=actor.id,
                        request_id=request_id,
                    ),
                )
            )
        return transfer_id, legs

    async def _count(
        self, data: CountCreate, *, actor: ActiveUser, request_id: str | None
    ) -> tuple[uuid.UUID, list[Movement]]:
        await self._usable_location(data.location_id)
        reorder_points = {}
        for product_id in sorted(line.product_id for line in data.lines):
            reorder_points[product_id] = (await self._usable_product(product_id)).reorder_point
        locked = await self.stock.lock_levels(
            [(line.product_id, data.location_id) for line in data.lines]
        )
        count_id = new_id()
        adjustments = []
        for line in data.lines:
            delta = line.counted - locked[(line.product_id, data.location_id)]
            if delta == 0:
                continue
            balance = await self._apply(line.product_id, data.location_id, delta)
            adjustments.append(
                await self._record(
                    reorder_points[line.product_id],
                    Movement(
                        product_id=line.product_id,
                        location_id=data.location_id,
                        kind=MovementKind.ADJUSTMENT,
                        reason=AdjustmentReason.COUNT,
                        quantity=delta,
                        balance_after=balance,
                        count_id=count_id,
                        reference=data.reference,
                        note=data.note,
                        created_by=actor.id,
                        request_id=request_id,
                    ),
                )
            )
        return count_id, adjustments

    # ---------------------------------------------------------------- helpers

    async def _record(self, reorder_point: int, movement: Movement) -> Movement:
        """Insert a ledger row (transfers and counts) with its events."""
        await self.movements.add(movement)
        await self._announce(MovementRead.model_validate(movement), reorder_point)
        return movement

    async def _announce(self, read: MovementRead, reorder_point: int) -> None:
        """The events of a ledger row (`movement.created`, and `level.below_reorder` when it
        takes the level from at-or-above the product's reorder point to below it), buffered
        by the unit of work; the row is counted in the metrics once committed."""
        after_commit(self.session, MOVEMENTS.labels(read.kind.value).inc)
        await self.work.emit(EventType.MOVEMENT_CREATED, read.model_dump(mode="json"))
        # The balance before is known from the one we got back: no query to find a crossing.
        before, after = read.balance_after - read.quantity, read.balance_after
        if before >= reorder_point > after:
            await self.work.emit(
                EventType.LEVEL_BELOW_REORDER,
                {
                    "product_id": str(read.product_id),
                    "location_id": str(read.location_id),
                    "on_hand": after,
                    "available": after,  # nothing is reserved yet: all on hand is available
                    "reorder_point": reorder_point,
                },
            )

    async def _apply(self, product_id: uuid.UUID, location_id: uuid.UUID, delta: int) -> int:
        """Change one level by `delta`; the balance after it."""
        if delta < 0:
            balance = await self.stock.decrease(product_id, location_id, -delta)
            if balance is None:
                available = await self.stock.available(product_id, location_id)
                raise InsufficientStock(available=available)
            return balance
        with self._bounded():
            return await self.stock.increase(product_id, location_id, delta)

    @contextmanager
    def _bounded(self) -> Iterator[None]:
        """A level pushed past its bound (1e12) is a conflict, not a server error."""
        try:
            yield
        except DBAPIError as exc:
            if (
                sqlstate(exc) == _NUMERIC_OUT_OF_RANGE
                or violated_constraint(exc) == "ck_stock_levels_on_hand_within_bounds"
            ):
                raise Conflict("On-hand stock would exceed 1e12 units at this location") from None
            raise

    async def _usable_product(self, product_id: uuid.UUID) -> Product:
        product: Product | None = await self.products.get_locked(product_id, exclusive=False)
        if product is None:
            raise NotFound("No product with this id")
        if product.is_archived:
            raise Conflict(_ARCHIVED_PRODUCT)
        return product

    async def _usable_location(self, location_id: uuid.UUID) -> Location:
        location: Location | None = await self.locations.get_locked(location_id, exclusive=False)
        if location is None:
            raise NotFound("No location with this id")
        if location.is_archived:
            raise Conflict(_ARCHIVED_LOCATION)
        return location
