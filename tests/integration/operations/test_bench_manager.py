"""bench/infra.py `create_manager`: the load's manager account (with the stream viewers and
the admin who creates the bench's API client), and a clear stop when an account that reads
like it is in the way."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.infra import BENCH_ADMIN_EMAIL, BENCH_EMAIL, STREAM_EMAILS, create_manager
from src.core import migrations
from src.core.emails import email_skeleton
from tests.support.databases import TestServer


async def users(url: str) -> list[tuple[str, str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT email, role FROM users ORDER BY email"))
            return [(row.email, row.role) for row in result]
    finally:
        await engine.dispose()


async def insert_user(url: str, email: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, email, email_skeleton, hashed_password, full_name,"
                    " role) VALUES (gen_random_uuid(), :email, :skeleton, 'x', 'N', 'viewer')"
                ),
                {"email": email, "skeleton": email_skeleton(email)},
            )
    finally:
        await engine.dispose()


def test_the_bench_manager_is_created(pg_server: TestServer) -> None:
    with pg_server.fresh_database("stockroom_bench") as url:
        migrations.upgrade(url)
        asyncio.run(create_manager(url))
        created = asyncio.run(users(url))
    # The manager who posts, the viewers who hold the open streams of the stream scenarios,
    # and the admin who creates the client-token scenario's API client.
    assert sorted(created) == sorted(
        [
            (BENCH_EMAIL, "manager"),
            *((email, "viewer") for email in STREAM_EMAILS),
            (BENCH_ADMIN_EMAIL, "admin"),
        ]
    )


@pytest.mark.parametrize(
    "taken",
    [BENCH_EMAIL, BENCH_EMAIL.replace("o", "0"), BENCH_EMAIL.replace("m", "rn")],
    ids=["same", "zero-for-o", "rn-for-m"],
)
def test_a_look_alike_of_the_bench_manager_stops_the_run_in_one_line(
    pg_server: TestServer, taken: str
) -> None:
    with pg_server.fresh_database("stockroom_bench") as url:
        migrations.upgrade(url)
        asyncio.run(insert_user(url, taken))
        with pytest.raises(SystemExit) as stopped:
            asyncio.run(create_manager(url))
        left = asyncio.run(users(url))
    assert str(stopped.value).startswith(f"cannot create the bench manager {BENCH_EMAIL}: ")
    assert str(stopped.value).endswith(("(uq_users_email_lower)", "(uq_users_email_skeleton)"))
    assert left == [(taken, "viewer")]
