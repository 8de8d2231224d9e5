"""Demo data for `stockroom seed-demo`: a catalog and a valid ledger, generated in memory.

Pure generation, no I/O. `DemoLedger` yields rows in batches (tuples in the order of the
`*_COLUMNS` constants) and keeps the running balance of every level it touches, so each
movement's `balance_after` is its level's running sum, no sum ever goes negative, and the
final levels equal the sums of their ledgers. Movements come in time order over the last
HISTORY; a transfer is an issue and a receipt at the same instant sharing a `transfer_id`.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import orjson
from uuid_utils import uuid7

HISTORY = timedelta(days=90)
# The demo user's full name: the author of every seeded record.
DEMO_NAME = "Demo Seed"
BATCH = 20_000

Row = tuple[object, ...]

PRODUCT_COLUMNS = (
    "id", "sku", "name", "description", "unit", "unit_price", "reorder_point",
    "created_at", "updated_at",
)  # fmt: skip
LOCATION_COLUMNS = ("id", "code", "name", "created_at", "updated_at")
LEVEL_COLUMNS = ("product_id", "location_id", "on_hand", "updated_at")
MOVEMENT_COLUMNS = (
    "id", "product_id", "location_id", "kind", "quantity", "balance_after", "reason",
    "reference", "note", "transfer_id", "count_id", "created_by", "actor", "created_at",
)  # fmt: skip

_GRADES = ("Standard", "Heavy-Duty", "Pro", "Eco", "Premium", "Compact", "Industrial")
_ITEMS = {
    "each": ("Safety Helmet", "LED Panel 60x60", "Cordless Drill", "Padlock 40mm", "Storage Bin",
             "Pallet Jack", "Extension Reel", "Hand Truck", "Fire Extinguisher 6kg"),
    "box": ("Hex Bolts M8 (100)", "Wood Screws 4x40 (200)", "Cable Ties 200mm (500)",
            "Nitrile Gloves L (100)", "Wall Plugs 6mm (250)", "Washers M10 (100)"),
    "kg": ("Portland Cement", "Kiln-Dried Sand", "Round Wire Nails", "Lithium Grease",
           "Rock Salt", "Tile Adhesive"),
    "m": ("Copper Cable 2.5mm2", "Garden Hose 19mm", "Steel Chain 6mm", "Polyester Rope 10mm",
          "PVC Conduit 20mm", "Cat6 Cable"),
}  # fmt: skip
_LOT = {"each": (1, 12), "box": (1, 8), "kg": (5, 80), "m": (10, 150)}
_CITIES = ("Leeds", "Bristol", "Glasgow", "Cardiff", "Belfast", "Norwich", "York", "Derby",
           "Exeter", "Dundee", "Hull", "Preston", "Swindon", "Luton", "Wigan", "Bath")  # fmt: skip
_SITES = ("Warehouse", "Depot", "Store", "Distribution Centre")
_ADJUSTMENTS = (  # reason, sign (0: either), note, weight
    ("count", 0, "Cycle count", 35),
    ("damage", -1, "Damaged in handling", 20),
    ("loss", -1, "Missing at pick", 15),
    ("found", 1, "Found during put-away", 10),
    ("correction", 0, "Keying error corrected", 20),
)


class DemoLedger:
    """Generates one run's rows and keeps the running balance of every level it touches."""

    def __init__(self, rng: random.Random, tag: str, user_id: uuid.UUID, now: datetime) -> None:
        self.rng = rng
        self.tag = tag
        self.user_id = user_id
        # The demo user as a movement's `actor` column takes it over COPY (JSON text).
        self.actor = orjson.dumps({"type": "user", "id": str(user_id), "name": DEMO_NAME}).decode()
        self.start = now - HISTORY
        self.product_ids: list[object] = []
        self.reorder: list[int] = []
        self.lot: list[int] = []
        self.location_ids: list[object] = []
        self.transfers = 0
        # Per level (index): product index, location index, on hand, last movement time.
        self.level_product: list[int] = []
        self.level_location: list[int] = []
        self.on_hand: list[int] = []
        self.last_at: list[datetime | None] = []
        self.siblings: list[list[int]] = []  # per product: its levels, for transfers
        self.cum_weights: list[float] = []

    def products(self, count: int) -> Iterator[list[Row]]:
        rng, born = self.rng, self.start - timedelta(days=2)
        step = timedelta(days=1) / max(count, 1)
        batch: list[Row] = []
        for i in range(count):
            unit = rng.choices(("each", "box", "kg", "m"), weights=(45, 25, 15, 15))[0]
            item = rng.choice(_ITEMS[unit])
            low, high = _LOT[unit]
            lot = rng.randint(low, high)
            reorder = 0 if rng.random() < 0.1 else lot * rng.randint(1, 4)
            price = Decimal(rng.randint(25, 50_000)).scaleb(-2)
            product_id = uuid7()
            self.product_ids.append(product_id)
            self.reorder.append(reorder)
            self.lot.append(lot)
            at = born + step * i
            name = f"{rng.choice(_GRADES)} {item}"
            description = f"Demo product from seed run {self.tag}."
            sku = f"SKU-{i + 1:06d}-{self.tag}"
            batch.append((product_id, sku, name, description, unit, price, reorder, at, at))
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def locations(self, count: int) -> Iterator[list[Row]]:
        born = self.start - timedelta(days=3)
        rows: list[Row] = []
        for i in range(count):
            location_id = uuid7()
            self.location_ids.append(location_id)
            code = f"WH-{i + 1:02d}-{self.tag}"
            name = f"{_CITIES[i % len(_CITIES)]} {_SITES[(i // len(_CITIES)) % len(_SITES)]}"
            at = born + timedelta(seconds=i)
            rows.append((location_id, code, name, at, at))
        yield rows

    def plan_levels(self) -> None:
        """Stock each product at a few locations; popular products and sites move more."""
        rng, locations = self.rng, len(self.location_ids)
        site_weight = [rng.uniform(1, 3) for _ in range(locations)]
        weights: list[float] = []
        for product in range(len(self.product_ids)):
            spread = min(locations, 1 + int(rng.expovariate(0.8)))
            popularity = rng.paretovariate(1.5)
            mine = []
            for location in rng.sample(range(locations), spread):
                mine.append(len(self.level_product))
                self.level_product.append(product)
                self.level_location.append(location)
                weights.append(popularity * site_weight[location])
            self.siblings.append(mine)
        self.on_hand = [0] * len(self.level_product)
        self.last_at = [None] * len(self.level_product)
        self.cum_weights = list(itertools.accumulate(weights))

    def movements(self, total: int) -> Iterator[list[Row]]:
        """`total` movement rows in time order, over the last HISTORY."""
        rng = self.rng
        rand, randint = rng.random, rng.randint
        step_us = HISTORY / timedelta(microseconds=1) / max(total, 1)
        levels = range(len(self.level_product))
        picks: list[int] = []
        batch: list[Row] = []
        slot = 0
        while slot < total:
            if not picks:
                picks = rng.choices(levels, cum_weights=self.cum_weights, k=BATCH)
            level = picks.pop()
            at = self.start + timedelta(microseconds=int((slot + 0.8 * rand()) * step_us))
            product = self.level_product[level]
            have, lot, reorder = self.on_hand[level], self.lot[product], self.reorder[product]
            # Mean-reverting: restock when low, mostly issue when overstocked. Cumulative
            # thresholds: receipt < issue < adjustment < transfer.
            if have == 0:
                receipt = issue = adjust = 1.0
            elif have < reorder:
                receipt, issue, adjust = 0.55, 0.90, 0.95
            elif have < reorder + 4 * lot:
                receipt, issue, adjust = 0.22, 0.85, 0.92
            else:
                receipt, issue, adjust = 0.05, 0.85, 0.92
            u = rand()
            if u < receipt:
                quantity = lot * randint(1, 4)
                ref = f"PO-{randint(100_000, 999_999)}"
                batch.append(self._row(level, "receipt", quantity, None, ref, None, None, None, at))
                slot += 1
            elif u < issue:
                quantity = -randint(1, min(have, 2 * lot))
                ref = f"SO-{randint(100_000, 999_999)}"
                batch.append(self._row(level, "issue", quantity, None, ref, None, None, None, at))
                slot += 1
            elif u < adjust or slot + 2 > total or len(self.siblings[product]) < 2:
                batch.append(self._adjustment(level, have, lot, at))
                slot += 1
            else:
                batch.extend(self._transfer(level, randint(1, max(1, have // 2)), at))
                slot += 2
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _adjustment(self, level: int, have: int, lot: int, at: datetime) -> Row:
        rng = self.rng
        reason, sign, note, _ = rng.choices(_ADJUSTMENTS, weights=[a[3] for a in _ADJUSTMENTS])[0]
        size = max(1, lot // 4)
        if sign < 0:
            quantity = -rng.randint(1, min(have, size))
        elif sign > 0:
            quantity = rng.randint(1, size)
        else:
            quantity = rng.randint(-min(have, size), size) or 1
        count_id = uuid7() if reason == "count" else None  # a one-line count
        return self._row(level, "adjustment", quantity, reason, None, note, None, count_id, at)

    def _transfer(self, source: int, quantity: int, at: datetime) -> tuple[Row, Row]:
        siblings = self.siblings[self.level_product[source]]
        target = self.rng.choice([level for level in siblings if level != source])
        transfer_id = uuid7()
        self.transfers += 1
        reference = f"TR-{self.tag}-{self.transfers:06d}"
        return (
            self._row(source, "issue", -quantity, None, reference, None, transfer_id, None, at),
            self._row(target, "receipt", quantity, None, reference, None, transfer_id, None, at),
        )

    def _row(
        self,
        level: int,
        kind: str,
        quantity: int,
        reason: str | None,
        reference: str | None,
        note: str | None,
        transfer_id: object,
        count_id: object,
        at: datetime,
    ) -> Row:
        balance = self.on_hand[level] + quantity
        if balance < 0:  # pragma: no cover - a bug in the generator, never data
            raise RuntimeError("generated a negative balance")
        self.on_hand[level] = balance
        self.last_at[level] = at
        return (
            uuid7(),
            self.product_ids[self.level_product[level]],
            self.location_ids[self.level_location[level]],
            kind,
            quantity,
            balance,
            reason,
            reference,
            note,
            transfer_id,
            count_id,
            self.user_id,
            self.actor,
            at,
        )

    def level_rows(self) -> list[Row]:
        """One stock level per (product, location) that has movements: its final sum."""
        return [
            (
                self.product_ids[self.level_product[level]],
                self.location_ids[self.level_location[level]],
                self.on_hand[level],
                at,
            )
            for level, at in enumerate(self.last_at)
            if at is not None
        ]
