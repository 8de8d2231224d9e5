"""More list plans, with test_list_indexes' EXPLAIN (sequential scans off): reservation and
shipment lists are answered from indexes as every other list is, and a list of several ids
is applied by an index on its column."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from src.models.reservation import ReservationStatus
from src.models.shipment import ShipmentStatus
from src.repositories.reservation import NEWEST_FIRST as RESERVATIONS_NEWEST_FIRST
from src.repositories.reservation import ReservationRepository
from src.repositories.shipment import NEWEST_FIRST as SHIPMENTS_NEWEST_FIRST
from src.repositories.shipment import ShipmentRepository
from src.schemas.filter import ReservationFilter, ShipmentFilter
from tests.support.capture import capturing_session
from tests.support.plans import (
    ID,
    OTHER,
    Build,
    Case,
    assert_plan_fits,
    explain,
    id_is,
    movements,
    paged,
    show,
)


def reservations(**filters: Any) -> Build:
    return paged(
        "reservations:newest",
        RESERVATIONS_NEWEST_FIRST,
        lambda s: ReservationRepository(s).page,
        ReservationFilter(**filters),
    )


def shipments(**filters: Any) -> Build:
    return paged(
        "shipments:newest",
        SHIPMENTS_NEWEST_FIRST,
        lambda s: ShipmentRepository(s).page,
        ShipmentFilter(**filters),
    )


CASES: dict[str, Case] = {
    "reservations": Case(reservations(), "ix_reservations_created_at_id"),
    # Active ones: the partial indexes on active reservations may serve it better than the
    # sort index, depending on how many there are.
    "reservations-status": Case(reservations(status=ReservationStatus.ACTIVE), None),
    "reservations-product": Case(
        reservations(product_id=[ID]), "ix_reservations_product_created_id", id_is("product_id")
    ),
    "reservations-location": Case(
        reservations(location_id=[ID]),
        "ix_reservations_location_created_id",
        id_is("location_id"),
    ),
    # Several ids of one column: an index serves both pages (which one turns on statistics;
    # that one can apply the list is the test below).
    "movements-products": Case(movements(product_id=[ID, OTHER]), None),
    "movements-locations": Case(movements(location_id=[ID, OTHER]), None),
    "shipments": Case(shipments(), "ix_shipments_created_at_id"),
    "shipments-status": Case(
        shipments(status=ShipmentStatus.IN_TRANSIT), "ix_shipments_created_at_id"
    ),
    "shipments-from": Case(
        shipments(from_location_id=[ID]), "ix_shipments_from_created_id", id_is("from_location_id")
    ),
    "shipments-to": Case(
        shipments(to_location_id=[ID]), "ix_shipments_to_created_id", id_is("to_location_id")
    ),
}


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("name", list(CASES))
async def test_list_query_uses_an_index(
    no_seqscan: AsyncConnection, name: str, after: bool
) -> None:
    case = CASES[name]
    assert_plan_fits(case, await explain(no_seqscan, await case.build(capturing_session(), after)))


@pytest.mark.parametrize("column", ["product_id", "location_id"])
async def test_several_ids_are_applied_by_an_index(
    no_seqscan: AsyncConnection, column: str
) -> None:
    """On these empty tables, walking the newest-first index and filtering is as cheap as
    anything, and which plan wins turns on statistics; with plain index scans off too, an
    index on the column must apply the whole list (`= ANY`), then the page is sorted. (On a
    next page the cursor's row comparison is indexable too, and either may drive the plan:
    the cases above check that one index does.)"""
    await no_seqscan.exec_driver_sql("SET LOCAL enable_indexscan = off")
    statement = await movements(**{column: [ID, OTHER]})(capturing_session(), False)
    nodes = await explain(no_seqscan, statement)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], show(nodes)
    applied = [
        n
        for n in nodes
        if n["Node Type"] == "Bitmap Index Scan" and f"({column} = ANY " in n.get("Index Cond", "")
    ]
    assert applied, show(nodes)
