"""Shipments: transfers whose stock spends time on the road.

Shipping moves each line's stock from the source's available stock into the transit location
(two ledger rows, as a transfer) and adds it to the destination's `incoming`. A receipt moves
what arrived from transit to the destination (and writes off what arrived damaged there); a
cancellation returns what is still pending to the source. Every unit is always in exactly one
level, and each line's `received + damaged + canceled <= shipped` is a database CHECK.

Lock order: the shipment's row, then its levels in (product_id, location_id) order; creating
one locks the levels first but its row is new, so no two paths wait on each other in turn.
"""

from __future__ import annotations

import uuid

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.core.exceptions import (
    Conflict,
    InsufficientStock,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from src.core.ids import new_id
from src.core.preconditions import IfMatch, etag
from src.models.shipment import Shipment, ShipmentLine, ShipmentStatus
from src.models.stock import AdjustmentReason, Movement, MovementKind
from src.models.user import ActiveUser
from src.repositories.base import PageResult
from src.repositories.levels import LevelState
from src.repositories.shipment import ShipmentRepository
from src.schemas.filters import ShipmentFilter
from src.schemas.shipment import ShipmentCreate, ShipmentRead, ShipmentReceipt
from src.services.stock_levels import LevelKeeper
from src.services.unit_of_work import UnitOfWork

_NOT_FOUND = "No shipment with this id"
_OPEN = (ShipmentStatus.IN_TRANSIT, ShipmentStatus.PARTIALLY_RECEIVED)


class ShipmentService:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.levels = LevelKeeper(work)
        self.stock = self.levels.stock
        self.shipments = ShipmentRepository(work.session)

    async def ship(
        self, data: ShipmentCreate, *, actor: ActiveUser, request_id: str | None
    ) -> ShipmentRead:
        """Send every line, or none: the source's available stock must cover each line."""
        await self.levels.usable_location(data.from_location_id)
        await self.levels.usable_location(data.to_location_id)
        reorder_points = {}
        for product_id in sorted(line.product_id for line in data.lines):
            reorder_points[product_id] = (
                await self.levels.usable_product(product_id)
            ).reorder_point
        transit = await self._transit()
        await self.stock.lock_levels(
            [
                (line.product_id, location)
                for line in data.lines
                for location in (data.from_location_id, transit, data.to_location_id)
            ]
        )
        shipment = Shipment(
            id=new_id(),
            from_location_id=data.from_location_id,
            to_location_id=data.to_location_id,
            reference=data.reference,
            created_by=actor.id,
            lines=[
                ShipmentLine(position=i, product_id=line.product_id, shipped=line.quantity)
                for i, line in enumerate(data.lines)
            ],
        )
        await self.shipments.add(shipment)  # before its movements, which refer to it
        for index, line in enumerate(data.lines):
            product_id, quantity = line.product_id, line.quantity
            try:
                source = await self.levels.take(product_id, data.from_location_id, quantity)
            except InsufficientStock as exc:
                exc.extra["line"] = index
                raise
            await self._move(
                shipment,
                product_id,
                quantity,
                data.from_location_id,
                transit,
                source=source,
                reorder_point=reorder_points[product_id],
                actor=actor,
                request_id=request_id,
            )
            await self.stock.add_incoming(product_id, data.to_location_id, quantity)
        return await self._announce(shipment, EventType.SHIPMENT_CREATED)

    async def receive(
        self,
        shipment_id: uuid.UUID,
        data: ShipmentReceipt,
        *,
        if_match: IfMatch | None,
        actor: ActiveUser,
        request_id: str | None,
    ) -> ShipmentRead:
        """Take in what arrived: received units join the destination's stock, damaged ones
        arrive and are written off there; more than is pending on a line is a 422."""
        shipment = await self._open(shipment_id, if_match)
        lines = {line.product_id: line for line in shipment.lines}
        for index, arrived in enumerate(data.lines):
            line = lines.get(arrived.product_id)
            if line is None:
                raise ValidationFailed(
                    "This product is not on the shipment",
                    loc=["body", "lines", index, "product_id"],
                )
            if arrived.received + arrived.damaged > line.pending:
                raise ValidationFailed(
                    f"At most {line.pending} (what is still pending) may arrive on this line",
                    loc=["body", "lines", index],
                    type_="less_than_equal",
                )
        transit = await self._transit()
        to = shipment.to_location_id
        await self._unarchived(to, "destination", "receive")
        await self.stock.lock_levels(
            [(arrived.product_id, location) for arrived in data.lines for location in (transit, to)]
        )
        for arrived in data.lines:
            product_id, units = arrived.product_id, arrived.received + arrived.damaged
            before = await self.stock.level(product_id, to)
            await self._move(
                shipment,
                product_id,
                units,
                transit,
                to,
                reorder_point=None,
                actor=actor,
                request_id=request_id,
            )
            await self.stock.add_incoming(product_id, to, -units)
            if arrived.damaged:
                after = await self.levels.take(product_id, to, arrived.damaged)
                reorder_point = (await self.levels.usable_product(product_id)).reorder_point
                await self.levels.record(
                    self._movement(
                        shipment,
                        product_id,
                        to,
                        -arrived.damaged,
                        after,
                        actor,
                        request_id,
                        reason=AdjustmentReason.DAMAGE,
                    ),
                    reorder_point=reorder_point,
                    available_before=before.available,
                    level=after,
                )
            line = lines[product_id]
            line.received += arrived.received
            line.damaged += arrived.damaged
        done = all(line.pending == 0 for line in shipment.lines)
        shipment.status = ShipmentStatus.COMPLETED if done else ShipmentStatus.PARTIALLY_RECEIVED
        read = await self._announce(shipment, EventType.SHIPMENT_RECEIVED, bump=True)
        if done:
            await self.work.emit(EventType.SHIPMENT_COMPLETED, read.model_dump(mode="json"))
        return read

    async def cancel(
        self,
        shipment_id: uuid.UUID,
        *,
        if_match: IfMatch | None,
        actor: ActiveUser,
        request_id: str | None,
    ) -> ShipmentRead:
        """Call back what is still pending: it returns to the source. Canceled when nothing
        had arrived, completed when some had."""
        shipment = await self._open(shipment_id, if_match)
        transit = await self._transit()
        source = shipment.from_location_id
        await self._unarchived(source, "source", "cancel it")
        pending = [line for line in shipment.lines if line.pending]
        await self.stock.lock_levels(
            [
                (line.product_id, location)
                for line in pending
                for location in (source, transit, shipment.to_location_id)
            ]
        )
        for line in pending:
            units = line.pending
            await self._move(
                shipment,
                line.product_id,
                units,
                transit,
                source,
                reorder_point=None,
                actor=actor,
                request_id=request_id,
            )
            await self.stock.add_incoming(line.product_id, shipment.to_location_id, -units)
            line.canceled += units
        arrived = any(line.received or line.damaged for line in shipment.lines)
        shipment.status = ShipmentStatus.COMPLETED if arrived else ShipmentStatus.CANCELED
        event = EventType.SHIPMENT_COMPLETED if arrived else EventType.SHIPMENT_CANCELED
        return await self._announce(shipment, event, bump=True)

    async def get(self, shipment_id: uuid.UUID) -> ShipmentRead:
        shipment = await self.shipments.get(shipment_id)
        if shipment is None:
            raise NotFound(_NOT_FOUND)
        return ShipmentRead.model_validate(shipment)

    async def page(
        self, filters: ShipmentFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[ShipmentRead]:
        page = await self.shipments.page(filters, codec=codec, cursor=cursor, limit=limit)
        return PageResult([ShipmentRead.model_validate(s) for s in page.items], page.next_cursor)

    # ---------------------------------------------------------------- helpers

    async def _open(self, shipment_id: uuid.UUID, if_match: IfMatch | None) -> Shipment:
        """The shipment, locked, matching If-Match when sent, and still on its way."""
        shipment = await self.shipments.get_for_update(shipment_id)
        if shipment is None:
            raise NotFound(_NOT_FOUND)
        if if_match is not None and not if_match.matches(shipment.version):
            raise PreconditionFailed(
                "The shipment changed since you read it; read it again",
                current_etag=etag(shipment.version),
            )
        if shipment.status not in _OPEN:
            raise Conflict(f"The shipment is {shipment.status.value}: nothing is on its way")
        return shipment

    async def _unarchived(self, location_id: uuid.UUID, role: str, action: str) -> None:
        """Lock the location stock is about to enter FOR SHARE (archiving locks it FOR
        UPDATE, so the two are decided one after the other): archived, it takes none."""
        location = await self.levels.locations.get_locked(location_id, exclusive=False)
        if location is not None and location.is_archived:
            raise Conflict(
                f"The shipment's {role} location is archived and takes no stock; restore it "
                f"to {action}"
            )

    async def _transit(self) -> uuid.UUID:
        """The transit location (created, and announced, by the first shipment)."""
        transit, created = await self.levels.locations.transit()
        if created:
            location = await self.levels.locations.get(transit)
            if location is not None:
                await self.work.emit(EventType.LOCATION_CREATED, location.model_dump(mode="json"))
        return transit

    async def _move(
        self,
        shipment: Shipment,
        product_id: uuid.UUID,
        units: int,
        from_: uuid.UUID,
        to: uuid.UUID,
        *,
        reorder_point: int | None,
        actor: ActiveUser,
        request_id: str | None,
        source: LevelState | None = None,
    ) -> None:
        """Move `units` between two locked levels with its two ledger rows. `source`: the
        source level once already taken from (a shipment's source, checked for available
        stock); otherwise the units are taken here (transit always holds them)."""
        if source is None:
            source = await self.stock.decrease(product_id, from_, units)
            if source is None:  # transit holds every pending unit: reconciliation checks it
                raise RuntimeError("the transit location holds less than a shipment's pending")
        target = await self.levels.put(product_id, to, units)
        for location, delta, level, reorder in (
            (from_, -units, source, reorder_point),
            (to, units, target, None),
        ):
            await self.levels.record(
                self._movement(shipment, product_id, location, delta, level, actor, request_id),
                reorder_point=reorder,
                available_before=level.available - delta,
                level=level,
            )

    @staticmethod
    def _movement(
        shipment: Shipment,
        product_id: uuid.UUID,
        location_id: uuid.UUID,
        delta: int,
        level: LevelState,
        actor: ActiveUser,
        request_id: str | None,
        *,
        reason: AdjustmentReason | None = None,
    ) -> Movement:
        if reason is not None:
            kind = MovementKind.ADJUSTMENT
        else:
            kind = MovementKind.RECEIPT if delta > 0 else MovementKind.ISSUE
        return Movement(
            product_id=product_id,
            location_id=location_id,
            kind=kind,
            reason=reason,
            quantity=delta,
            balance_after=level.on_hand,
            reference=shipment.reference,
            shipment_id=shipment.id,
            created_by=actor.id,
            request_id=request_id,
        )

    async def _announce(
        self, shipment: Shipment, event: EventType, *, bump: bool = False
    ) -> ShipmentRead:
        """Write the shipment's changes (a new version when `bump`) and emit `event`."""
        if bump:
            shipment.version += 1
        await self.work.session.flush()  # timestamps come back with it (eager defaults)
        read = ShipmentRead.model_validate(shipment)
        await self.work.emit(event, read.model_dump(mode="json"))
        return read
