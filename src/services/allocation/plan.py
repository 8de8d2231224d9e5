"""Source selection: where each line of an allocation is taken from, worked out in memory
from the locked levels' figures (nothing else can change them meanwhile).

For a line: its pinned `location_id`, else the preferred `locations` in their order (those
holding a level of the product), then the other locations by most available at that point
(the order's earlier lines already taken off; ties by location code, then id). `split`
takes greedily in that order; without it a line comes whole from the first location that
covers it. `single_location` takes the whole order from the first location (preferred ones
first, then by the units of the order it can cover, most first; ties by code, then id) that
covers every line; a pinned line forces its location.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from src.core.exceptions import Conflict, InsufficientStock
from src.repositories.allocation import Source
from src.repositories.stock.level import Pair

TWO_PINS = "Lines pinned to different locations cannot come from a single location"
SHORT = "Not enough stock available for every line of the order"


@dataclass(frozen=True, slots=True)
class Want:
    """A line as planning sees it."""

    product_id: uuid.UUID
    quantity: int
    pinned: uuid.UUID | None


# Per line, its picks: (location id, units), in pick order.
Picks = list[list[tuple[uuid.UUID, int]]]


class Planner:
    def __init__(
        self,
        sources: dict[uuid.UUID, Source],
        available: dict[Pair, int],
        preferred: Sequence[uuid.UUID],
    ) -> None:
        self.sources = sources
        self.available = dict(available)
        self.preferred = list(preferred)

    def plan(self, wants: Sequence[Want], *, split: bool, single_location: bool) -> Picks:
        """The picks of every line, or InsufficientStock (with `shortages`) when a line
        cannot be covered: all or nothing."""
        if single_location:
            return self._single(wants)
        picks: Picks = []
        given: list[int] = []
        for want in wants:
            taken = self._line(want, split=split)
            picks.append(taken)
            given.append(sum(units for _, units in taken))
        if any(g < w.quantity for g, w in zip(given, wants, strict=True)):
            raise self._short(wants, given)
        return picks

    def _order(self, product_id: uuid.UUID) -> list[uuid.UUID]:
        """Candidate locations for an unpinned line of this product."""
        preferred = [loc for loc in self.preferred if (product_id, loc) in self.available]
        chosen = set(preferred)
        rest = [loc for (p, loc) in self.available if p == product_id and loc not in chosen]
        rest.sort(key=lambda loc: (-self.available[(product_id, loc)], *self._tie(loc)))
        return preferred + rest

    def _tie(self, location_id: uuid.UUID) -> tuple[str, str]:
        return self.sources[location_id].code, str(location_id)

    def _line(self, want: Want, *, split: bool) -> list[tuple[uuid.UUID, int]]:
        """Take the line (as much of it as the rules allow when short; a short line's
        figures only feed the shortages then)."""
        order = [want.pinned] if want.pinned is not None else self._order(want.product_id)
        if not split:
            for loc in order:
                if self._free(want.product_id, loc) >= want.quantity:
                    return [self._take(want.product_id, loc, want.quantity)]
            # Short: what the best single location could give, taken off like a pick so
            # the shortages never count one unit twice.
            best = max(order, key=lambda loc: self._free(want.product_id, loc), default=None)
            units = 0 if best is None else self._free(want.product_id, best)
            return [self._take(want.product_id, best, units)] if best and units else []
        taken, need = [], want.quantity
        for loc in order:
            units = min(need, self._free(want.product_id, loc))
            if units:
                taken.append(self._take(want.product_id, loc, units))
                need -= units
            if not need:
                break
        return taken

    def _free(self, product_id: uuid.UUID, location_id: uuid.UUID) -> int:
        return max(self.available.get((product_id, location_id), 0), 0)

    def _take(
        self, product_id: uuid.UUID, location_id: uuid.UUID, units: int
    ) -> tuple[uuid.UUID, int]:
        self.available[(product_id, location_id)] -= units
        return location_id, units

    def _single(self, wants: Sequence[Want]) -> Picks:
        pins = {w.pinned for w in wants if w.pinned is not None}
        if len(pins) > 1:
            raise Conflict(TWO_PINS)
        demand: dict[uuid.UUID, int] = defaultdict(int)
        for want in wants:
            demand[want.product_id] += want.quantity

        def covers(loc: uuid.UUID) -> int:
            return sum(min(q, self._free(p, loc)) for p, q in demand.items())

        if pins:
            order = list(pins)
        else:
            usable = [loc for loc, s in self.sources.items() if not (s.is_archived or s.is_transit)]
            preferred = [loc for loc in self.preferred if loc in self.sources]
            rest = [loc for loc in usable if loc not in set(preferred)]
            rest.sort(key=lambda loc: (-covers(loc), *self._tie(loc)))
            order = preferred + rest
        total = sum(demand.values())
        for loc in order:
            if covers(loc) == total:
                return [[self._take(w.product_id, loc, w.quantity)] for w in wants]
        # Short everywhere: the shortages as the location covering the most would leave them.
        best = max(order, key=covers, default=None)
        shortages = [
            {
                "product_id": str(p),
                "requested": q,
                "available": 0 if best is None else self._free(p, best),
            }
            for p, q in demand.items()
            if best is None or self._free(p, best) < q
        ]
        return _raise(shortages)

    def _short(self, wants: Sequence[Want], given: Sequence[int]) -> InsufficientStock:
        requested: dict[uuid.UUID, int] = defaultdict(int)
        could: dict[uuid.UUID, int] = defaultdict(int)
        short: dict[uuid.UUID, bool] = {}
        for want, got in zip(wants, given, strict=True):
            requested[want.product_id] += want.quantity
            could[want.product_id] += got
            short[want.product_id] = short.get(want.product_id, False) or got < want.quantity
        return InsufficientStock(
            SHORT,
            shortages=[
                {"product_id": str(p), "requested": requested[p], "available": could[p]}
                for p in requested
                if short[p]
            ],
        )


def _raise(shortages: list[dict[str, object]]) -> Picks:
    raise InsufficientStock(SHORT, shortages=shortages)
