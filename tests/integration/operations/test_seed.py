"""`stockroom seed-demo`: a valid ledger (running sums, levels, transfers), each run adding its
own data set, one-line refusals, and nothing left behind when it fails."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from src.cli import app
from src.core.emails import email_skeleton
from tests.support.databases import TestServer

runner = CliRunner()
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"
DEMO_EMAIL = "demo-seed@stockroom.invalid"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "ENVIRONMENT", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOCKROOM_DATA_DIR", str(tmp_path / "data"))


def fetch(url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(sql))
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def count(url: str, table: str) -> int:
    return int(fetch(url, f"SELECT count(*) FROM {table}")[0][0])  # noqa: S608 - test tables


def seed(*args: str) -> Any:
    return runner.invoke(app, ["seed-demo", *args])


def assert_valid_ledger(url: str) -> dict[str, int]:
    """Check every ledger invariant from the rows themselves; counts by kind (+ transfers)."""
    (demo_id,) = fetch(url, f"SELECT id FROM users WHERE email = '{DEMO_EMAIL}'")[0]  # noqa: S608
    movements = fetch(
        url,
        "SELECT product_id, location_id, kind, quantity, balance_after, reason, transfer_id,"
        " created_by, created_at, reference FROM stock_movements"
        " ORDER BY product_id, location_id, created_at, id",
    )
    now = datetime.now(UTC)
    running: dict[tuple[Any, Any], int] = defaultdict(int)
    last: dict[tuple[Any, Any], datetime] = {}
    legs: dict[Any, list[Any]] = defaultdict(list)
    kinds: dict[str, int] = defaultdict(int)
    for m in movements:
        level = (m.product_id, m.location_id)
        assert level not in last or m.created_at > last[level], "times increase per level"
        running[level] += m.quantity
        assert m.balance_after == running[level] >= 0
        assert (m.reason is not None) == (m.kind == "adjustment")
        assert m.created_by == demo_id
        assert now - timedelta(days=91) < m.created_at <= now
        last[level] = m.created_at
        kinds[m.kind] += 1
        if m.transfer_id is not None:
            legs[m.transfer_id].append(m)
    levels = fetch(url, "SELECT product_id, location_id, on_hand, updated_at FROM stock_levels")
    assert {(lv.product_id, lv.location_id): (lv.on_hand, lv.updated_at) for lv in levels} == {
        level: (total, last[level]) for level, total in running.items()
    }
    for pair in legs.values():
        assert len(pair) == 2
        issue, receipt = sorted(pair, key=lambda leg: leg.quantity)
        assert (issue.kind, receipt.kind) == ("issue", "receipt")
        assert issue.quantity + receipt.quantity == 0
        assert issue.product_id == receipt.product_id
        assert issue.location_id != receipt.location_id
        assert issue.created_at == receipt.created_at
        assert issue.reference == receipt.reference
    return {**kinds, "transfers": len(legs), "levels": len(levels)}


@pytest.mark.slow
def test_seed_demo_builds_a_valid_ledger(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    with pg_server.fresh_database("stockroom_seed") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = seed(
            "--products", "5", "--locations", "3", "--movements", "500", "--seed", "7",
            "--reservations", "0", "--shipments", "0",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert (count(url, "products"), count(url, "locations")) == (5, 3)
        assert count(url, "stock_movements") == 500
        stats = assert_valid_ledger(url)
        skus = [row[0] for row in fetch(url, "SELECT sku FROM products ORDER BY sku")]
        codes = [row[0] for row in fetch(url, "SELECT code FROM locations ORDER BY code")]
        products = fetch(url, "SELECT unit, unit_price, reorder_point FROM products")
        (user,) = fetch(url, "SELECT role, is_active, hashed_password FROM users")
    summary = r"seeded run [0-9A-F]{6}: 5 products, 3 locations, 500 movements \(.*\n"
    assert re.fullmatch(summary, result.stdout)
    tag = result.stdout.split()[2].rstrip(":")
    assert skus == [f"SKU-00000{i}-{tag}" for i in range(1, 6)]
    assert codes == [f"WH-0{i}-{tag}" for i in range(1, 4)]
    assert all(p.unit in {"each", "box", "kg", "m"} and p.reorder_point >= 0 for p in products)
    assert all(p.unit_price > 0 for p in products)
    assert min(stats["receipt"], stats["issue"], stats["adjustment"]) > 0
    assert stats["transfers"] > 0, "seed 7 stocks some product at two locations"
    assert stats["receipt"] + stats["issue"] > 0.8 * 500
    assert f"({stats['transfers']} transfers) on {stats['levels']} stock levels" in result.stdout
    assert (user.role, user.is_active) == ("clerk", False)
    assert user.hashed_password.startswith("$argon2id$")


def test_seed_demo_twice_adds_an_independent_second_set(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    with pg_server.fresh_database("stockroom_seed") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        none = ("--reservations", "0", "--shipments", "0")
        first = seed("--products", "4", "--locations", "2", "--movements", "300", *none)
        again = seed("--products", "3", "--locations", "2", "--movements", "200", *none)
        assert first.exit_code == 0, first.output
        assert again.exit_code == 0, again.output
        assert (count(url, "products"), count(url, "locations")) == (7, 4)
        assert count(url, "stock_movements") == 500
        assert count(url, "users") == 1
        assert_valid_ledger(url)
    assert first.stdout.endswith(f"demo user {DEMO_EMAIL} created\n")
    assert again.stdout.endswith(f"demo user {DEMO_EMAIL} reused\n")
    assert first.stdout.split()[2] != again.stdout.split()[2], "each run has its own tag"


@pytest.mark.slow
def test_seed_demo_makes_reservations_and_shipments_that_add_up(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    with pg_server.fresh_database("stockroom_seed") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = seed(
            "--products", "6", "--locations", "3", "--movements", "600", "--seed", "3",
            "--reservations", "8", "--shipments", "6",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "; 8 reservations, 6 shipments; " in result.stdout
        assert count(url, "reservations") == 8
        assert count(url, "shipments") == 6
        statuses = {row[0] for row in fetch(url, "SELECT status FROM shipments")}
        assert {"in_transit", "partially_received"} <= statuses
        # Every level agrees with its ledger, its reservations and its shipments.
        unexplained = fetch(
            url,
            "SELECT l.product_id, l.location_id FROM stock_levels l"
            " LEFT JOIN (SELECT product_id, location_id, sum(quantity) AS n FROM stock_movements"
            "  GROUP BY 1, 2) m USING (product_id, location_id)"
            " LEFT JOIN (SELECT product_id, location_id, sum(remaining) AS n FROM reservations"
            "  WHERE status = 'active' GROUP BY 1, 2) r USING (product_id, location_id)"
            " LEFT JOIN (SELECT product_id, to_location_id AS location_id,"
            "  sum(shipped - received - damaged - canceled) AS n"
            "  FROM shipment_lines JOIN shipments ON shipments.id = shipment_id GROUP BY 1, 2) s"
            "  USING (product_id, location_id)"
            " WHERE l.on_hand <> coalesce(m.n, 0) OR l.reserved <> coalesce(r.n, 0)"
            "  OR l.incoming <> coalesce(s.n, 0)",
        )
        assert unexplained == []


def test_seed_demo_without_movements_creates_only_the_catalog(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    with pg_server.fresh_database("stockroom_seed") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = seed("--products", "1", "--locations", "1", "--movements", "0")
        assert result.exit_code == 0, result.output
        assert (count(url, "products"), count(url, "locations")) == (1, 1)
        assert (count(url, "stock_movements"), count(url, "stock_levels")) == (0, 0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--products", "0", "--products must be between 1 and 1_000_000 (got 0)"),
        ("--products", "1000001", "--products must be between 1 and 1_000_000 (got 1000001)"),
        ("--locations", "-3", "--locations must be between 1 and 10_000 (got -3)"),
        ("--movements", "-1", "--movements must be between 0 and 10_000_000 (got -1)"),
        ("--movements", "10000001", "--movements must be between 0 and 10_000_000"),
        ("--reservations", "-1", "--reservations must be between 0 and 10_000 (got -1)"),
        ("--shipments", "10001", "--shipments must be between 0 and 10_000 (got 10001)"),
    ],
)
def test_seed_demo_refuses_numbers_out_of_range_in_one_line(
    monkeypatch: pytest.MonkeyPatch, option: str, value: str, message: str
) -> None:
    # Checked before any connection: the unreachable database is never tried.
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = seed(option, value)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {message}")
    assert result.output.count("\n") == 1


def test_seed_demo_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    result = seed("--movements", "10")
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot connect to the database at 127.0.0.1:1/nothing")
    assert result.output.count("\n") == 1


def test_seed_demo_failure_rolls_back_everything(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    with pg_server.fresh_database("stockroom_seed") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        # The last COPY (stock levels) fails after products, locations and movements went in.
        fetch(url, "ALTER TABLE stock_levels ADD CONSTRAINT test_refuses_levels CHECK (false)")
        result = seed("--products", "3", "--locations", "2", "--movements", "50")
        left = [count(url, t) for t in ("users", "products", "locations", "stock_movements")]
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(
        "error: seeding failed and was rolled back: CheckViolationError: "
    )
    assert "Traceback" not in result.output
    assert left == [0, 0, 0, 0]


def test_seed_demo_refuses_when_an_account_reads_like_the_demo_user(
    monkeypatch: pytest.MonkeyPatch, pg_server: TestServer
) -> None:
    """Another account already has an address that reads like the demo user's: the run
    stops with one line naming that account by id, and nothing is seeded or taken over."""
    look_alike = "dem0-seed@stockroom.invalid"  # a zero for the o
    with pg_server.fresh_database("stockroom_seed") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        fetch(
            url,
            "INSERT INTO users (id, email, email_skeleton, hashed_password, full_name, role)"  # noqa: S608
            f" VALUES (gen_random_uuid(), '{look_alike}', '{email_skeleton(look_alike)}', 'x',"
            " 'Someone', 'manager')",
        )
        (other_id,) = fetch(url, "SELECT id FROM users")[0]
        result = seed("--products", "2", "--locations", "1", "--movements", "5")
        users = fetch(url, "SELECT email, role FROM users")
        left = [count(url, t) for t in ("products", "locations", "stock_movements")]
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"error: the account {other_id} has an address that reads like the demo user's"
        f" ({DEMO_EMAIL}); seed-demo needs that address for its own clerk"
    )
    assert "Traceback" not in result.output
    assert [tuple(row) for row in users] == [(look_alike, "manager")]
    assert left == [0, 0, 0]
