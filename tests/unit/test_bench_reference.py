"""The benchmark's reference runs Stockroom's own statements (bench/README.md): where it
keeps a copy of one, the copy is the text Stockroom sends the server, so a change to the
statement in src/ that is not made in bench/ fails here, not silently in the figures."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import asyncpg

from bench import reference_availability
from src.core.prepared import plan_for
from src.repositories.stock.availability import _AVAILABILITY


def test_availability_is_stockroom_statement() -> None:
    plan = plan_for(_AVAILABILITY, asyncpg.dialect())
    assert plan is not None
    assert plan.names == ("ids", "skus", "locations")  # the reference's $1, $2, $3
    assert reference_availability.AVAILABILITY.strip() == plan.sql.strip()
