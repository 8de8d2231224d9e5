"""`stockroom seed-demo`: fill the database with a demo catalog and a valid ledger, fast
enough for millions of movements.

The rows come from `src.cli.seed_data` in batches and are written with COPY (asyncpg's
`copy_records_to_table`) inside one transaction, so an interrupted or failed run leaves
nothing behind; the tables are ANALYZEd afterwards. Each run tags its SKUs and location
codes (`SKU-000123-3FA9C1`, `WH-01-3FA9C1`) and posts only to its own levels, so running it
again adds a second, independent data set. Movements are created by one demo user, a clerk
that cannot log in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import asyncpg
import typer
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from uuid_utils import uuid7

from src.cli.runtime import CliError, database_session, run_migrations
from src.cli.seed_availability import seed_availability
from src.cli.seed_data import (
    BATCH,
    DEMO_NAME,
    LEVEL_COLUMNS,
    LOCATION_COLUMNS,
    MOVEMENT_COLUMNS,
    PRODUCT_COLUMNS,
    DemoLedger,
    Row,
)
from src.core.emails import email_skeleton
from src.core.passwords import hash_password
from src.models.catalog import Location, Product
from src.models.user import Role, User

LIMITS = {
    "products": 1_000_000,
    "locations": 10_000,
    "movements": 10_000_000,
    "reservations": 10_000,
    "shipments": 10_000,
}
DEMO_EMAIL = "demo-seed@stockroom.invalid"


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
    reservations: int = 0
    shipments: int = 0

    def summary(self) -> str:
        rate = self.movements / self.seconds if self.seconds > 0 else 0.0
        user = "created" if self.user_created else "reused"
        return (
            f"seeded run {self.tag}: {self.products} products, {self.locations} locations, "
            f"{self.movements} movements ({self.transfers} transfers) on {self.levels} stock "
            f"levels in {self.seconds:.1f}s ({rate:,.0f} movements/s); "
            f"{self.reservations} reservations, {self.shipments} shipments; "
            f"demo user {DEMO_EMAIL} {user}"
        )


def check_counts(
    *, products: int, locations: int, movements: int, reservations: int = 0, shipments: int = 0
) -> None:
    for name, value, low in (
        ("products", products, 1),
        ("locations", locations, 1),
        ("movements", movements, 0),
        ("reservations", reservations, 0),
        ("shipments", shipments, 0),
    ):
        if not low <= value <= LIMITS[name]:
            raise CliError(f"--{name} must be between {low} and {LIMITS[name]:_} (got {value})")


def seed_demo(
    *,
    products: int,
    locations: int,
    movements: int,
    seed: int | None = None,
    reservations: int = 0,
    shipments: int = 0,
) -> SeedResult:
    """Validate, migrate, then seed the catalog and ledger in one transaction and ANALYZE;
    then the reservations and shipments, each committed on its own (`seed_availability`).

    `seed` makes the shape of the data (names, quantities, kinds, times) reproducible; ids
    and the run tag are always fresh.
    """
    check_counts(
        products=products,
        locations=locations,
        movements=movements,
        reservations=reservations,
        shipments=shipments,
    )
    with database_session() as url:
        run_migrations(url)
        try:
            return asyncio.run(
                _seed_all(url, products, locations, movements, seed, reservations, shipments)
            )
        except (asyncpg.PostgresError, DBAPIError, OSError) as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            reason = str(cause).splitlines()[0] if str(cause) else ""
            raise CliError(
                f"seeding failed and was rolled back: {type(cause).__name__}: {reason}"
            ) from None


async def _seed_all(
    url: str,
    products: int,
    locations: int,
    movements: int,
    seed: int | None,
    reservations: int,
    shipments: int,
) -> SeedResult:
    result, ledger = await _seed(url, products, locations, movements, seed)
    made = await seed_availability(
        url,
        location_ids=[uuid.UUID(str(location)) for location in ledger.location_ids],
        actor_id=ledger.user_id,
        tag=result.tag,
        reservations=reservations,
        shipments=shipments,
        rng=random.Random(seed),  # noqa: S311 - demo data, not secrets
    )
    return dataclasses.replace(result, reservations=made[0], shipments=made[1])


async def _seed(
    url: str, products: int, locations: int, movements: int, seed: int | None
) -> tuple[SeedResult, DemoLedger]:
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
            rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
            ledger = DemoLedger(rng, tag, user_id, datetime.now(UTC))
            with typer.progressbar(
                length=products + locations + movements, label="seeding", file=sys.stderr
            ) as bar:
                copy = functools.partial(_copy_batches, driver, progress=bar.update)
                await copy("products", PRODUCT_COLUMNS, ledger.products(products))
                await copy("locations", LOCATION_COLUMNS, ledger.locations(locations))
                ledger.plan_levels()
                await copy("stock_movements", MOVEMENT_COLUMNS, ledger.movements(movements))
            levels = ledger.level_rows()
            for start in range(0, len(levels), BATCH):
                chunk = levels[start : start + BATCH]
                await _copy(driver, "stock_levels", LEVEL_COLUMNS, chunk)
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE products, locations, stock_levels, stock_movements"))
            await conn.commit()
    finally:
        await engine.dispose()
    result = SeedResult(
        tag=tag,
        products=products,
        locations=locations,
        movements=movements,
        transfers=ledger.transfers,
        levels=len(levels),
        user_created=user_created,
        seconds=time.perf_counter() - began,
    )
    return result, ledger


async def _copy_batches(
    driver: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    batches: Iterator[list[Row]],
    *,
    progress: Callable[[int], object],
) -> None:
    """COPY each batch while a worker thread generates the next: on two cores PostgreSQL
    writes one batch while Python builds the following one."""
    batch = await asyncio.to_thread(next, batches, None)
    while batch is not None:
        following = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        try:
            await _copy(driver, table, columns, batch)
            progress(len(batch))
        finally:
            batch = await following  # the thread cannot be cancelled; let it finish


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
            email_skeleton=email_skeleton(DEMO_EMAIL),
            hashed_password=hashed,
            full_name=DEMO_NAME,
            role=Role.CLERK,
            is_active=False,
        )
        .on_conflict_do_nothing()  # the address, or its look-alike skeleton, is taken
        .returning(User.id)
    )
    if created is not None:
        return created, True
    raced = await conn.scalar(find)  # created concurrently by another run
    if raced is not None:
        return raced, False
    # Someone's account reads like the demo user's: never borrow it as the seeding clerk.
    alike = await conn.scalar(
        select(User.id).where(User.email_skeleton == email_skeleton(DEMO_EMAIL))
    )
    raise CliError(
        f"the account {alike} has an address that reads like the demo user's ({DEMO_EMAIL});"
        " seed-demo needs that address for its own clerk"
    )


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
