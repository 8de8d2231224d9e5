"""DB_PGBOUNCER=true: the service runs correctly through PgBouncer in transaction mode."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from src.main import create_app
from src.models.user import Role
from tests.support.factories import MakeUser, login_headers
from tests.support.pgbouncer import pgbouncer
from tests.support.settings import make_settings
from tests.support.stock import new_location, new_product, on_hand, post_movement, receive


@pytest.fixture
def bouncer_url(committed_database_url: str) -> Iterator[str]:
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        pytest.skip("PgBouncer is not installed (Debian package pgbouncer); CI installs it")
    if make_url(committed_database_url).host is None:
        pytest.skip(
            "the test PostgreSQL listens on a Unix socket only; PgBouncer needs TCP "
            "(set TEST_DATABASE_URL, as CI's second pass does)"
        )
    with pgbouncer(committed_database_url) as url:
        yield url


@pytest.fixture
async def bounced(
    bouncer_url: str, committed_database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        make_settings(
            bouncer_url, tmp_path, db_pgbouncer=True, database_listen_url=committed_database_url
        )
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_postings_and_reads_through_pgbouncer(
    bounced: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    clerk = await login_headers(bounced, await committed_make_user(role=Role.CLERK))
    manager = await login_headers(bounced, await committed_make_user(role=Role.MANAGER))
    product = await new_product(bounced, manager)
    location = await new_location(bounced, manager)
    await receive(bounced, clerk, product, location, 10)
    # Many statements over few server connections: prepared statements must not collide.
    responses = await asyncio.gather(
        *(post_movement(bounced, clerk, product, location, "issue", 1) for _ in range(25))
    )
    assert Counter(r.status_code for r in responses) == {201: 10, 409: 15}
    keyed = {**clerk, "Idempotency-Key": f"bouncer-{product['id']}"}
    first = await post_movement(bounced, keyed, product, location, "receipt", 3)
    again = await post_movement(bounced, keyed, product, location, "receipt", 3)
    assert again.content == first.content
    assert await on_hand(bounced, clerk, product, location) == 3
    listing = await bounced.get(
        "/api/v1/stock/movements", params={"product_id": product["id"]}, headers=clerk
    )
    assert len(listing.json()["items"]) == 12
    assert (await bounced.get("/api/health/ready")).status_code == 200
