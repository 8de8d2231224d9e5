"""Shipments: transfers whose stock spends time on the road.

Shipping moves each line's stock from the source's available stock into the transit location
(two ledger rows, as a transfer) and adds it to the destination's `incoming`. A receipt moves
what arrived from transit to the destination (and writes off what arrived damaged there); a
cancellation returns what is still pending to the source. Every unit is always in exactly one
level, and each line's `received + damaged + canceled <= shipped` is a database CHECK.

Lock order: the shipment's row, then its levels in (product_id, location_id) order; creating
one locks the levels first but its row is new, so no two paths wait on each other in turn.
Each takes a constant number of statements whatever its line count: the levels are locked,
changed and the ledger rows inserted set-based (`src.services.level_set`).
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
from src.models.principal import Principal
from src.models.shipment import Shipment, ShipmentLine, ShipmentStatus
from src.models.stock import AdjustmentReason, Movement, MovementKind
from src.repositories.base import PageResult
from src.repositories.shipment import LineChange, ShipmentRepository
from src.repositories.stock.level import LevelState
from src.schemas.filter import ShipmentFilter
from src.schemas.shipment import ShipmentCreate, ShipmentRead, ShipmentReceipt
from src.services.level_keeper import LevelKeeper
from src.services.level_set import LevelSet, usable_products
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
        self, data: ShipmentCreate, *, actor: Principal, request_id: str | None
    ) -> ShipmentRead:
        """Send every line, or none: the source's available stock must cover each line. A
        constant number of statements whatever the line count (`src.services.level_set`)."""
        source, to = data.from_location_id, data.to_location_id
        await self.levels.usable_location(source)
        await self.levels.usable_location(to)
        products = await usable_products(self.levels, (line.product_id for line in data.lines))
        transit = await self._transit()
        levels = LevelSet(self.levels)
        await levels.lock(
            (line.product_id, location) for line in data.lines for location in (source, transit, to)
        )
        short = [
            (line.product_id, source)
            for line in data.lines
            if levels.level((line.product_id, source)).available < line.quantity
        ]
        if short:  # as LevelKeeper.take: what overdue reservations held is available
            await levels.free_overdue(short)
        for index, line in enumerate(data.lines):
            available = levels.level((line.product_id, source)).available
            if available < line.quantity:
                raise InsufficientStock(available=available, line=index)
        shipment = Shipment(
            id=new_id(),
            from_location_id=source,
            to_location_id=to,
            reference=data.reference,
            created_by=actor.user_id,
            actor=actor.actor.as_json(),
        )
        lines = [
            ShipmentLine(position=i, product_id=line.product_id, shipped=line.quantity)
            for i, line in enumerate(data.lines)
        ]
        # Before its movements, which refer to it.
        await self.shipments.add_with_lines(shipment, lines)
        for line in data.lines:
            self._move(
                levels,
                shipment,
                line.product_id,
                line.quantity,
                source,
                transit,
                reorder_point=products[line.product_id].reorder_point,
                actor=actor,
                request_id=request_id,
            )
            levels.change((line.product_id, to), incoming=line.quantity)
        await levels.write()
        return await self._announce(shipment, EventType.SHIPMENT_CREATED)

    async def receive(
        self,
        shipment_id: uuid.UUID,
        data: ShipmentReceipt,
        *,
        if_match: IfMatch | None,
        actor: Principal,
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
        damaged = [arrived.product_id for arrived in data.lines if arrived.damaged]
        products = await usable_products(self.levels, damaged) if damaged else {}
        levels = LevelSet(self.levels)
        await levels.lock(
            (arrived.product_id, location) for arrived in data.lines for location in (transit, to)
        )
        for arrived in data.lines:
            product_id, units = arrived.product_id, arrived.received + arrived.damaged
            before = levels.level((product_id, to))
            self._move(
                levels,
                shipment,
                product_id,
                units,
                transit,
                to,
                reorder_point=None,
                actor=actor,
                request_id=request_id,
            )
            levels.change((product_id, to), incoming=-units)
            if arrived.damaged:  # what just arrived covers it
                after = levels.change((product_id, to), on_hand=-arrived.damaged)
                levels.record(
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
                    reorder_point=products[product_id].reorder_point,
                    available_before=before.available,
                    level=after,
                )
        await levels.write()
        await self.shipments.add_to_lines(
            shipment,
            [
                LineChange(lines[a.product_id], received=a.received, damaged=a.damaged)
                for a in data.lines
            ],
        )
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
        actor: Principal,
        request_id: str | None,
    ) -> ShipmentRead:
        """Call back what is still pending: it returns to the source. Canceled when nothing
        had arrived, completed when some had."""
        shipment = await self._open(shipment_id, if_match)
        transit = await self._transit()
        source = shipment.from_location_id
        await self._unarchived(source, "source", "cancel it")
        pending = [line for line in shipment.lines if line.pending]
        levels = LevelSet(self.levels)
        await levels.lock(
            (line.product_id, location)
            for line in pending
            for location in (source, transit, shipment.to_location_id)
        )
        for line in pending:
            units = line.pending
            self._move(
                levels,
                shipment,
                line.product_id,
                units,
                transit,
                source,
                reorder_point=None,
                actor=actor,
                request_id=request_id,
            )
            levels.change((line.product_id, shipment.to_location_id), incoming=-units)
        await levels.write()
        await self.shipments.add_to_lines(
            shipment, [LineChange(line, canceled=line.pending) for line in pending]
        )
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

    def _move(
        self,
        levels: LevelSet,
        shipment: Shipment,
        product_id: uuid.UUID,
        units: int,
        from_: uuid.UUID,
        to: uuid.UUID,
        *,
        reorder_point: int | None,
        actor: Principal,
        request_id: str | None,
    ) -> None:
        """Move `units` between two locked levels with its two ledger rows (written with the
        request's others by `LevelSet.write`). The source has them available: a shipment's
        source was checked, and transit holds every pending unit."""
        if levels.level((product_id, from_)).available < units:
            # Reconciliation checks that transit holds what shipments have pending.
            raise RuntimeError("the transit location holds less than a shipment's pending")
        source = levels.change((product_id, from_), on_hand=-units)
        target = levels.change((product_id, to), on_hand=units)
        for location, delta, level, reorder in (
            (from_, -units, source, reorder_point),
            (to, units, target, None),
        ):
            levels.record(
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
        actor: Principal,
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
            created_by=actor.user_id,
            actor=actor.actor.as_json(),
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
