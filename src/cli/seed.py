"""`stockroom seed-demo`: a realistic demo catalog and a valid ledger, fast enough for
millions of movements.

Rows are generated in Python, in batches, and written with COPY (asyncpg's
`copy_records_to_table`) inside one transaction: an interrupted run leaves nothing behind.
Every row satisfies the schema's rules: running sums per (product, location) never go
negative, `balance_after` is the running sum, levels equal the sum of their ledger, and each
transfer is an issue and a receipt sharing a `transfer_id`. Each run tags its SKUs and
location codes (`SKU-000123-3FA9C1`) and posts only to its own levels, so running it again
adds a second, independent data set.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import asyncpg
import typer
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from uuid_utils import uuid7

from src.cli.runtime import CliError, database_session, run_migrations
from src.core.passwords import hash_password
from src.models.catalog import Location, Product
from src.models.user import Role, User

LIMITS = {"products": 1_000_000, "locations": 10_000, "movements": 10_000_000}
DEMO_EMAIL = "demo-seed@stockroom.invalid"
HISTORY = timedelta(days=90)
BATCH = 20_000

Row = tuple[object, ...]

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
_MOVEMENT_COLUMNS = (
    "id", "product_id", "location_id", "kind", "quantity", "balance_after", "reason",
    "reference", "note", "transfer_id", "count_id", "created_by", "created_at",
)  # fmt: skip


@dataclass(frozen=True)
class SeedResult:
    tag: str
    products: int
    locations: int
    movements: int
    transfers: int
    levels: int
    user_created: bool
    seconds: float

    def summary(self) -> str:
        rate = self.movements / self.seconds if self.seconds > 0 else 0.0
        user = "created" if self.user_created else "reused"
        return (
            f"seeded run {self.tag}: {self.products} products, {self.locations} locations, "
            f"{self.movements} movements ({self.transfers} transfers) on {self.levels} stock "
            f"levels in {self.seconds:.1f}s ({rate:,.0f} movements/s); "
            f"demo user {DEMO_EMAIL} {user}"
        )


def check_counts(*, products: int, locations: int, movements: int) -> None:
    for name, value, low in (
        ("products", products, 1),
        ("locations", locations, 1),
        ("movements", movements, 0),
    ):
        if not low <= value <= LIMITS[name]:
            raise CliError(f"--{name} must be between {low} and {LIMITS[name]:_} (got {value})")


def seed_demo(*, products: int, locations: int, movements: int) -> SeedResult:
    """Validate, migrate, then seed in one transaction and ANALYZE."""
    check_counts(products=products, locations=locations, movements=movements)
    with database_session() as url:
        run_migrations(url)
        try:
            return asyncio.run(_seed(url, products, locations, movements))
        except (asyncpg.PostgresError, DBAPIError, OSError) as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            reason = str(cause).splitlines()[0] if str(cause) else ""
            raise CliError(
                f"seeding failed and was rolled back: {type(cause).__name__}: {reason}"
            ) from None


# ------------------------------------------------------------------------- database


async def _seed(url: str, products: int, locations: int, movements: int) -> SeedResult:
    began = time.perf_counter()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            user_id, user_created = await _demo_user(conn)
            tag = await _free_tag(conn)
            raw = await conn.get_raw_connection()
            driver = cast("asyncpg.Connection", raw.driver_connection)
            if not driver.is_in_transaction():  # the statements above opened it
                raise RuntimeError("seed-demo must run inside a transaction")
            rng = random.Random()  # noqa: S311 - demo data, not secrets
            ledger = _Ledger(rng, tag, user_id, datetime.now(UTC))
            with typer.progressbar(
                length=products + locations + movements, label="seeding", file=sys.stderr
            ) as bar:
                for batch in ledger.products(products):
                    await _copy(driver, "products", _PRODUCT_COLUMNS, batch)
                    bar.update(len(batch))
                for batch in ledger.locations(locations):
                    await _copy(driver, "locations", _LOCATION_COLUMNS, batch)
                    bar.update(len(batch))
                ledger.plan_levels()
                for batch in ledger.movements(movements):
                    await _copy(driver, "stock_movements", _MOVEMENT_COLUMNS, batch)
                    bar.update(len(batch))
            levels = ledger.level_rows()
            for start in range(0, len(levels), BATCH):
                chunk = levels[start : start + BATCH]
                await _copy(driver, "stock_levels", _LEVEL_COLUMNS, chunk)
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE products, locations, stock_levels, stock_movements"))
            await conn.commit()
    finally:
        await engine.dispose()
    return SeedResult(
        tag=tag,
        products=products,
        locations=locations,
        movements=movements,
        transfers=ledger.transfers,
        levels=len(levels),
        user_created=user_created,
        seconds=time.perf_counter() - began,
    )


async def _copy(
    driver: asyncpg.Connection, table: str, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    await driver.copy_records_to_table(table, records=rows, columns=columns)


async def _demo_user(conn: AsyncConnection) -> tuple[uuid.UUID, bool]:
    """The demo user's id, creating it (a clerk that cannot log in) when missing."""
    find = select(User.id).where(func.lower(User.email) == DEMO_EMAIL)
    existing = await conn.scalar(find)
    if existing is not None:
        return existing, False
    hashed = await hash_password(secrets.token_urlsafe(32))
    created = await conn.scalar(
        insert(User)
        .values(
            id=uuid.UUID(bytes=uuid7().bytes),
            email=DEMO_EMAIL,
            hashed_password=hashed,
            full_name="Demo Seed",
            role=Role.CLERK,
            is_active=False,
        )
        .on_conflict_do_nothing(index_elements=[func.lower(User.email)])
        .returning(User.id)
    )
    if created is not None:
        return created, True
    raced = await conn.scalar(find)  # created concurrently by another run
    if raced is None:  # pragma: no cover - the conflict means it exists
        raise RuntimeError("the demo user vanished")
    return raced, False


async def _free_tag(conn: AsyncConnection) -> str:
    """A run tag whose first SKU and location code are not taken yet."""
    for _ in range(10):
        tag = secrets.token_hex(3).upper()
        taken = await conn.scalar(
            select(func.count()).select_from(
                select(Product.id)
                .where(func.lower(Product.sku) == f"sku-000001-{tag}".lower())
                .union_all(
                    select(Location.id).where(func.lower(Location.code) == f"wh-01-{tag}".lower())
                )
                .subquery()
            )
        )
        if not taken:
            return tag
    raise CliError("could not find an unused run tag; are the products full of demo data?")


# ------------------------------------------------------------------------- generation

_PRODUCT_COLUMNS = (
    "id", "sku", "name", "description", "unit", "unit_price", "reorder_point",
    "created_at", "updated_at",
)  # fmt: skip
_LOCATION_COLUMNS = ("id", "code", "name", "created_at", "updated_at")
_LEVEL_COLUMNS = ("product_id", "location_id", "on_hand", "updated_at")


class _Ledger:
    """Generates one run's rows and keeps the running balance of every level it touches."""

    def __init__(self, rng: random.Random, tag: str, user_id: uuid.UUID, now: datetime) -> None:
        self.rng = rng
        self.tag = tag
        self.user_id = user_id
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
        step = timedelta(days=1) / count
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
        reference = f"TR-{self.transfers:06d}"
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
