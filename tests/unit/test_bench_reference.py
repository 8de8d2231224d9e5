"""The benchmark's reference runs Stockroom's own statements (bench/README.md): where it
keeps a copy of one, the copy is the text Stockroom sends the server, so a change to the
statement in src/ that is not made in bench/ fails here, not silently in the figures. And
every scenario's request has a route in the reference, so no endpoint is measured on one
server only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.sql import ClauseElement
from starlette.routing import Match

from bench import reference_allocation_sql, reference_availability
from bench.infra import Dataset
from bench.reference import app
from bench.scenarios import SCENARIOS, Scenario, Target
from src.core.prepared import plan_for
from src.models.reservation import Reservation
from src.repositories import allocation
from src.repositories.catalog import _PRODUCTS_HELD
from src.repositories.stock.availability import _AVAILABILITY
from src.repositories.stock.level import _CHANGE_MANY
from src.repositories.unnest import insert_rows


def _sent(statement: ClauseElement) -> str:
    # An INSERT names the columns it is given: the allocation's, as the service gives them.
    given = ["reference", "status", "created_by", "actor", "id"]
    return str(statement.compile(dialect=asyncpg.dialect(), column_keys=given))


def test_availability_is_stockroom_statement() -> None:
    plan = plan_for(_AVAILABILITY, asyncpg.dialect())
    assert plan is not None
    assert plan.names == ("ids", "skus", "locations")  # the reference's $1, $2, $3
    assert reference_availability.AVAILABILITY.strip() == plan.sql.strip()


@pytest.mark.parametrize(
    ("copy", "statement"),
    [
        ("LOCK_PRODUCTS", _PRODUCTS_HELD),
        ("LOCK_SOURCES", allocation._LOCK_SOURCES),
        ("LOCK_LEVELS", allocation._LOCK_LEVELS),
        ("INSERT_ALLOCATION", allocation._INSERT_ALLOCATION),
        ("INSERT_LINES", insert_rows(allocation._LINES, allocation._LINE_COLUMNS)),
        (
            "INSERT_PICKS",
            insert_rows(Reservation.__table__, allocation.PICK_COLUMNS, ("id", "created_at")),
        ),
        ("CHANGE_LEVELS", _CHANGE_MANY),
    ],
)
def test_allocation_statements_are_stockroom_statements(
    copy: str, statement: ClauseElement
) -> None:
    assert getattr(reference_allocation_sql, copy) == _sent(statement)


def _dataset() -> Dataset:
    products = [str(uuid.uuid4()) for _ in range(40)]
    return Dataset(
        product_ids=products,
        levels=[(product, str(uuid.uuid4())) for product in products],
        deep_product=products[0],
        deep_movements=1,
        movements=1,
        events=1,
        feed_starts=["start"],
        postgres_version="15",
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_scenario_has_a_reference_route(scenario: Scenario) -> None:
    target = Target("reference", 8000, "token", "run", client_token="client")
    make, _ = scenario.scripts(target, _dataset(), 1)[0]
    method, target_path, _ = make().split(b"\r\n", 1)[0].decode().split(" ")
    path = target_path.split("?", 1)[0]
    scope = {"type": "http", "method": method, "path": path}
    assert any(route.matches(scope)[0] is Match.FULL for route in app.routes), (method, path)


def test_the_issue_scenarios_are_there() -> None:
    assert {"availability", "allocate"} <= {scenario.name for scenario in SCENARIOS}
