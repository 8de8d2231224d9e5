"""Alembic owns the schema: every revision goes up and down, and models match migrations."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from src.core import migrations
from src.core.emails import email_skeleton
from src.models import Base
from tests.support.databases import TestServer


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql+asyncpg://x/y"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _current(url: str) -> str | None:
    async def read() -> str | None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            version = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
        await engine.dispose()
        return version

    return asyncio.run(read())


def test_revision_files_are_named_by_date() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql+asyncpg://x/y"))
    for revision in script.walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert name[:16].replace("_", "").isdigit(), name


@pytest.mark.slow
def test_stairway_every_revision_up_down_up(pg_server: TestServer) -> None:
    revisions = _revisions()
    assert revisions, "there must be at least one migration"
    with pg_server.fresh_database("stockroom_stairway") as url:
        previous: str = "base"
        for revision in revisions:
            migrations.upgrade(url, revision)
            assert _current(url) == revision
            command.downgrade(migrations.alembic_config(url), previous)
            assert _current(url) == (None if previous == "base" else previous)
            migrations.upgrade(url, revision)
            previous = revision
        assert _current(url) == revisions[-1]


def test_models_and_migrations_agree(database_url: str) -> None:
    def diff(sync: Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(database_url)
        async with engine.connect() as connection:
            result = await connection.run_sync(diff)
        await engine.dispose()
        return result

    assert asyncio.run(run()) == []


def test_email_skeletons_are_backfilled_oldest_first(
    pg_server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Existing accounts get the app's skeletons (0011's, then 0012's folded ones); of two
    that already look alike the older keeps it (the newer's is suffixed with its id, and a
    warning names both by id only), and from then on the index refuses any look-alike."""
    ids = [f"01900000-0000-7000-8000-00000000000{n}" for n in range(1, 8)]
    rows = [  # oldest first
        (ids[0], "admin@example.com"),
        (ids[1], "adm\u0131n@example.com"),  # a dotless i: admin's look-alike
        (ids[2], "ana@example.com"),
        (ids[3], "j0hn@example.com"),
        (ids[4], "JOHN@Example.com"),  # stored before addresses were canonical: j0hn's twin
        (ids[5], "anna@example.com"),
        (ids[6], "paypa1@example.com"),
    ]

    async def seed(url: str) -> None:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, email, hashed_password, full_name, role,"
                    " created_at, updated_at) VALUES (:id, :email, 'x', 'N', 'viewer',"
                    " now() - make_interval(mins => :age), now())"
                ),
                [
                    {"id": user_id, "email": email, "age": 10 - minute}
                    for minute, (user_id, email) in enumerate(rows)
                ],
            )
        await engine.dispose()

    async def skeletons(url: str) -> dict[str, str]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT id::text, email_skeleton FROM users"))
            found = {user_id: skeleton for user_id, skeleton in result.all()}
            with pytest.raises(IntegrityError, match="uq_users_email_skeleton"):
                await connection.execute(
                    text(
                        "INSERT INTO users (id, email, email_skeleton, hashed_password,"
                        " full_name, role) VALUES (gen_random_uuid(), 'adrnin@example.com',"
                        " :skeleton, 'x', 'N', 'viewer')"
                    ),
                    {"skeleton": email_skeleton("adrnin@example.com")},
                )
        await engine.dispose()
        return found

    with pg_server.fresh_database("stockroom_skeletons") as url:
        migrations.upgrade(url, "0010_webhooks")
        asyncio.run(seed(url))
        # 0011 took TR39's skeleton of the address as stored: j0hn and JOHN stayed apart.
        migrations.upgrade(url, "0011_email_skeletons")
        assert len(set(asyncio.run(skeletons(url)).values())) == len(rows)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
            migrations.upgrade(url)
        found = asyncio.run(skeletons(url))
    # The app's own function, so the copy in the migration cannot drift from it unseen.
    expected = {user_id: email_skeleton(email) for user_id, email in rows}
    expected[ids[1]] += f" {ids[1]}"
    expected[ids[4]] += f" {ids[4]}"
    assert found == expected
    assert expected[ids[3]] == email_skeleton("john@example.com") == "john@exarnple.corn"
    assert len({skeleton.split(" ")[0] for skeleton in found.values()}) == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"user {ids[1]} looks like the older user {ids[0]}: review it",
        f"user {ids[4]} looks like the older user {ids[3]}: review it",
    ]
    assert not any("@" in warning for warning in warnings)


def test_actors_are_backfilled_from_created_by(pg_server: TestServer) -> None:
    """0014 names each existing record's author: the user of `created_by` (by full name), or
    an unknown client where it is null (only a client's write left it so after 0013). Events
    keep none but `movement.created` ones (their poster, in the movement they carry too), and
    the ledger stays append-only."""
    ann = "01900000-0000-7000-8000-0000000000a1"
    product, here, there = (f"01900000-0000-7000-8000-0000000000b{n}" for n in range(3))
    by_ann, by_client = (f"01900000-0000-7000-8000-0000000000c{n}" for n in range(2))
    held, sent = "01900000-0000-7000-8000-0000000000d1", "01900000-0000-7000-8000-0000000000e1"
    ids = {"ann": ann, "product": product, "here": here, "there": there}
    ids |= {"by_ann": by_ann, "by_client": by_client, "held": held, "sent": sent}
    statements = [
        "INSERT INTO users (id, email, email_skeleton, hashed_password, full_name, role)"
        " VALUES (:ann, 'ann@example.com', 'ann@example.com', 'x', 'Ann Example', 'clerk')",
        "INSERT INTO products (id, sku, name, unit, reorder_point)"
        " VALUES (:product, 'SKU-1', 'Bolt', 'each', 0)",
        "INSERT INTO locations (id, code, name) VALUES (:here, 'A', 'A'), (:there, 'B', 'B')",
        "INSERT INTO stock_movements (id, product_id, location_id, kind, quantity,"
        " balance_after, created_by) VALUES (:by_ann, :product, :here, 'receipt', 5, 5, :ann),"
        " (:by_client, :product, :here, 'receipt', 1, 6, NULL)",
        "INSERT INTO reservations (id, product_id, location_id, quantity, remaining, status,"
        " expires_at, created_by) VALUES (:held, :product, :here, 1, 1, 'active',"
        " now() + interval '1 hour', :ann)",
        "INSERT INTO shipments (id, from_location_id, to_location_id, status, created_by)"
        " VALUES (:sent, :here, :there, 'in_transit', NULL)",
        "INSERT INTO events (type, data) VALUES ('product.created', '{}')",
        "INSERT INTO events (type, data, movement_id) VALUES ('movement.created',"
        " jsonb_build_object('id', CAST(:by_ann_text AS text), 'created_by',"
        " CAST(:ann_text AS text)), :by_ann),"
        " ('movement.created', jsonb_build_object('id', CAST(:by_client_text AS text),"
        " 'created_by', NULL),"
        " :by_client)",
    ]

    async def seed(url: str) -> None:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            for statement in statements:
                clause = text(statement)
                params: dict[str, object] = {k: uuid.UUID(v) for k, v in ids.items()}
                params |= {f"{k}_text": v for k, v in ids.items()}  # inside JSON
                await connection.execute(
                    clause, {k: v for k, v in params.items() if f":{k}" in statement}
                )
        await engine.dispose()

    async def actors(url: str) -> dict[str, object]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            found: dict[str, object] = {}
            for table in ("stock_movements", "reservations", "shipments"):
                rows = await connection.execute(
                    text(f"SELECT id::text, actor FROM {table}")  # noqa: S608 - constants
                )
                found |= {row.id: row.actor for row in rows}
            events = await connection.execute(text("SELECT type, actor, data FROM events"))
            found["events"] = sorted(
                ((row.type, row.actor, row.data.get("actor")) for row in events), key=str
            )
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.execute(text("UPDATE stock_movements SET note = 'x'"))
        await engine.dispose()
        return found

    with pg_server.fresh_database("stockroom_actors") as url:
        migrations.upgrade(url, "0013_api_clients")
        asyncio.run(seed(url))
        migrations.upgrade(url)
        found = asyncio.run(actors(url))
    user = {"type": "user", "id": ann, "name": "Ann Example"}
    unknown = {
        "type": "client",
        "id": "00000000-0000-0000-0000-000000000000",
        "name": "unknown client",
    }
    assert found == {
        by_ann: user,
        by_client: unknown,
        held: user,
        sent: unknown,
        # A movement's event names its poster, in the event and in the movement it carries.
        "events": sorted(
            [
                ("product.created", None, None),
                ("movement.created", user, user),
                ("movement.created", unknown, unknown),
            ],
            key=str,
        ),
    }
