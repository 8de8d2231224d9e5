"""A model of what stock levels, reservations and shipments should hold, for the property
test of availability (tests/integration/availability/test_availability_properties.py): the
rules of the contract in a few lines of Python, indexed by (product, location) positions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import event

Level = tuple[int, int]


@dataclass
class Held:
    id: str
    level: Level
    remaining: int
    status: str = "active"
    overdue: bool = False


@dataclass
class Sent:
    id: str
    source: int
    target: int
    pending: dict[int, int]
    arrived: bool = False
    status: str = "in_transit"


@dataclass
class Model:
    on_hand: dict[Level, int] = field(default_factory=lambda: defaultdict(int))
    reserved: dict[Level, int] = field(default_factory=lambda: defaultdict(int))
    incoming: dict[Level, int] = field(default_factory=lambda: defaultdict(int))
    transit: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    held: list[Held] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def holding(self, level: Level) -> list[Held]:
        return [h for h in self.held if h.level == level and h.status == "active"]

    def can_take(self, level: Level, amount: int) -> bool:
        """What a write may take: on hand less what live (not overdue) reservations hold."""
        live = sum(h.remaining for h in self.holding(level) if not h.overdue)
        return self.on_hand[level] - live >= amount

    def take(self, level: Level, amount: int) -> None:
        """Take from available, first freeing overdue reservations when short (as the
        service does: only then are they marked expired)."""
        if self.on_hand[level] - self.reserved[level] < amount:
            self.expire_overdue(level)
        self.on_hand[level] -= amount

    def expire_overdue(self, level: Level) -> None:
        for h in self.holding(level):
            if h.overdue:
                h.status = "expired"
                event("an overdue reservation freed by a write")
                self.reserved[level] -= h.remaining
