"""Postings that are checked before anything is written: batches of movements (all or
nothing) and movements that state the on-hand quantity they expect.

Unlike the one-statement posting (`StockService.post_movement`), these lock every level they
touch first (`LevelRepository.lock_levels`, one fixed order, so they queue behind each other
instead of deadlocking), walk the lines in order against running figures per level, and fail
at the first line that cannot be posted before anything changes. Only then is each level
changed once, by the sum of its lines, and the ledger rows are inserted together, each with
the balance its line left: what the database would hold had the lines been applied one by
one, since no one else can change a locked level.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from src.core.exceptions import Conflict, DomainError, InsufficientStock, StaleQuantity
from src.core.ids import new_id
from src.models.catalog import Location, Product
from src.models.principal import Principal
from src.models.stock import Movement
from src.repositories.stock.level import LevelState, Pair
from src.schemas.actor import ActorRead
from src.schemas.catalog import MAX_QUANTITY
from src.schemas.stock import BatchCreate, BatchRead, MovementCreate, MovementRead
from src.services.level_keeper import TOO_MUCH, LevelKeeper, bounded

T = TypeVar("T")


@dataclass(slots=True)
class _Running:
    """A locked level as the lines walked so far would leave it."""

    on_hand: int
    reserved: int
    moved: int = 0  # the sum of the lines' deltas: what the level changes by in the end

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(slots=True)
class _Line:
    """A line that passed its checks, with the level before and after it."""

    data: MovementCreate
    product: Product
    available_before: int
    after: LevelState


@dataclass(slots=True)
class _Plan:
    lines: list[_Line] = field(default_factory=list)
    levels: dict[Pair, _Running] = field(default_factory=dict)


class BatchPoster:
    """Checked postings on the request's unit of work (through `StockService`)."""

    def __init__(self, levels: LevelKeeper) -> None:
        self.levels = levels
        self.stock = levels.stock

    async def post_batch(
        self, data: BatchCreate, *, actor: Principal, request_id: str | None
    ) -> BatchRead:
        """Every line or none; a failing line's problem carries its index as `line`. A line
        without a reference of its own takes the batch's."""
        batch_id = new_id()
        movements = await self._post(
            data.movements,
            actor=actor,
            request_id=request_id,
            batch_id=batch_id,
            reference=data.reference,
        )
        return BatchRead(batch_id=batch_id, movements=movements, actor=ActorRead.of(actor.actor))

    async def post_expecting(
        self, data: MovementCreate, *, actor: Principal, request_id: str | None
    ) -> MovementRead:
        """One movement that states the on-hand quantity it expects (`expected_on_hand`):
        the level is locked before it is compared, so nothing can change it in between."""
        (movement,) = await self._post([data], actor=actor, request_id=request_id)
        return movement

    # ---------------------------------------------------------------- helpers

    async def _post(
        self,
        lines: Sequence[MovementCreate],
        *,
        actor: Principal,
        request_id: str | None,
        batch_id: uuid.UUID | None = None,
        reference: str | None = None,
    ) -> list[MovementRead]:
        """Check, then write: one statement per level (the sum of its lines) and one INSERT
        of every line, so a batch's round trips grow with the levels it names, not its
        lines."""
        plan = await self._plan(lines, numbered=batch_id is not None)
        for (product_id, location_id), level in plan.levels.items():
            with bounded():
                await self.stock.set_level(product_id, location_id, delta=level.moved, unreserve=0)
        movements = [
            Movement(
                product_id=line.data.product_id,
                location_id=line.data.location_id,
                kind=line.data.kind,
                quantity=line.data.delta,
                balance_after=line.after.on_hand,
                reason=line.data.reason,
                reference=reference if line.data.reference is None else line.data.reference,
                note=line.data.note,
                batch_id=batch_id,
                created_by=actor.user_id,
                actor=actor.actor.as_json(),
                request_id=request_id,
            )
            for line in plan.lines
        ]
        await self.levels.movements.add_all(movements)
        reads = []
        for line, movement in zip(plan.lines, movements, strict=True):
            read = MovementRead.model_validate(movement)
            await self.levels.announce(
                read,
                reorder_point=line.product.reorder_point,
                available_before=line.available_before,
                level=line.after,
            )
            reads.append(read)
        return reads

    async def _plan(self, lines: Sequence[MovementCreate], *, numbered: bool) -> _Plan:
        """Check every line in order against the locked levels; the first that fails raises
        (with `line` when `numbered`), and nothing has been changed but locks taken and
        overdue reservations freed (rolled back with the request)."""
        products: dict[uuid.UUID, Product | DomainError] = {}
        for product_id in sorted({line.product_id for line in lines}):
            products[product_id] = await _usable(self.levels.usable_product(product_id))
        locations: dict[uuid.UUID, Location | DomainError] = {}
        for location_id in sorted({line.location_id for line in lines}):
            locations[location_id] = await _usable(self.levels.usable_location(location_id))
        # Only the levels of usable products and locations can exist; a line naming another
        # fails before its level is needed.
        pairs = [
            (line.product_id, line.location_id)
            for line in lines
            if not isinstance(products[line.product_id], DomainError)
            and not isinstance(locations[line.location_id], DomainError)
        ]
        locked = await self.stock.lock_levels(pairs)
        plan = _Plan(levels={pair: _Running(s.on_hand, s.reserved) for pair, s in locked.items()})
        await self._free_overdue(lines, plan.levels)
        for index, line in enumerate(lines):
            at: dict[str, Any] = {"line": index} if numbered else {}
            product, location = products[line.product_id], locations[line.location_id]
            if isinstance(product, DomainError):
                raise _at_line(product, at)
            if isinstance(location, DomainError):
                raise _at_line(location, at)
            level = plan.levels[(line.product_id, line.location_id)]
            available_before = _apply(line, level, at)
            plan.lines.append(
                _Line(line, product, available_before, LevelState(level.on_hand, level.reserved))
            )
        return plan

    async def _free_overdue(
        self, lines: Sequence[MovementCreate], levels: dict[Pair, _Running]
    ) -> None:
        """Where the lines would take more than a level has available, first free what its
        overdue reservations held (as `LevelKeeper.take` does), once, before any line is
        walked: their `reservation.expired` events come before the batch's movements."""
        wanted: dict[Pair, int] = {}
        for line in lines:
            pair = (line.product_id, line.location_id)
            if line.delta < 0 and pair in levels:
                wanted[pair] = wanted.get(pair, 0) - line.delta
        for pair in sorted(wanted):
            level = levels[pair]
            if level.reserved and wanted[pair] > level.available:
                level.reserved -= await self.levels.expire_overdue(*pair)


def _apply(line: MovementCreate, level: _Running, at: dict[str, Any]) -> int:
    """Apply one line to its running level if it may be posted there; what was available
    before it. A decrease the level cannot give fails whatever later lines would add."""
    if line.expected_on_hand is not None and line.expected_on_hand != level.on_hand:
        raise StaleQuantity(on_hand=level.on_hand, **at)
    delta = line.delta
    if -delta > level.available:
        raise InsufficientStock(available=level.available, **at)
    if level.on_hand + delta > MAX_QUANTITY:
        raise Conflict(TOO_MUCH, **at)
    available_before = level.available
    level.on_hand += delta
    level.moved += delta
    return available_before


def _at_line(error: DomainError, at: dict[str, Any]) -> DomainError:
    """The same problem (NotFound or Conflict), with the failing line's index."""
    return type(error)(error.detail, **error.extra, **at)


async def _usable(lookup: Awaitable[T]) -> T | DomainError:
    """The record `lookup` (a `LevelKeeper.usable_*` call) finds, or the error it raised: a
    batch reports the error at the first line naming the record, not where the lookup ran."""
    try:
        return await lookup
    except DomainError as error:  # NotFound, or Conflict when archived
        return error
