"""Who did it: an `actor` ({"type", "id", "name"}) on the records a caller makes (movements,
reservations, shipments; a batch, transfer or count is its movements) and on every event.

Existing records get their author from `created_by` (the user's full name now: the name at
the time was never stored), in one statement per table. A record with no `created_by` can
only be a client's (before 0013 the column was NOT NULL, after it only a client's write
leaves it null), whose id was not kept: it is named as an unknown client. Existing
`movement.created` events name their movement's author the same way (the event and the
movement in its `data`); other existing events keep no actor (null), as events written by
background work do.

Revision ID: 0014_actors
Revises: 0013_api_clients
Create Date: 2026-12-07 21:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_actors"
down_revision: str | Sequence[str] | None = "0013_api_clients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Records only requests make: each has an author, so the column is NOT NULL there.
_RECORDS = ("stock_movements", "reservations", "shipments")
_UNKNOWN_CLIENT = (
    "jsonb_build_object('type', 'client', 'id', '00000000-0000-0000-0000-000000000000',"
    " 'name', 'unknown client')"
)


def upgrade() -> None:
    for table in _RECORDS:
        op.add_column(table, sa.Column("actor", postgresql.JSONB(), nullable=True))
    # The ledger refuses UPDATE (its append-only trigger): off for this backfill only, in
    # this transaction (ALTER TABLE locks the table until the commit).
    op.execute("ALTER TABLE stock_movements DISABLE TRIGGER stock_movements_append_only")
    for table in _RECORDS:
        # One statement per table; each author found by users' primary key.
        # The tables are this file's constants: nothing from outside goes into the SQL.
        author = (
            f"UPDATE {table} SET actor = coalesce((SELECT jsonb_build_object('type', 'user',"  # noqa: S608
            " 'id', CAST(u.id AS text), 'name', u.full_name) FROM users AS u"
            f" WHERE u.id = {table}.created_by), {_UNKNOWN_CLIENT})"
        )
        op.execute(author)
        op.alter_column(table, "actor", existing_type=postgresql.JSONB(), nullable=False)
    op.execute("ALTER TABLE stock_movements ENABLE TRIGGER stock_movements_append_only")
    # Nullable: background work (reservation expiry, the sweeper) emits events no one asked
    # for, and most events written before this revision name no one.
    op.add_column("events", sa.Column("actor", postgresql.JSONB(), nullable=True))
    # A `movement.created` event was written by the request that posted its movement, whose
    # `data` (the movement) names its `created_by`: that is its actor, in the event and in the
    # movement it carries (/stock/events sends that movement as records now read, actor and
    # all). Other events' `data` names a record's maker, not who changed it: they keep none.
    op.execute(
        "UPDATE events SET actor = coalesce((SELECT jsonb_build_object('type', 'user',"  # noqa: S608
        " 'id', CAST(u.id AS text), 'name', u.full_name) FROM users AS u"
        f" WHERE u.id = CAST(events.data->>'created_by' AS uuid)), {_UNKNOWN_CLIENT})"
        " WHERE type = 'movement.created'"
    )
    op.execute(
        "UPDATE events SET data = data || jsonb_build_object('actor', actor)"
        " WHERE type = 'movement.created' AND data->'actor' IS NULL"
    )


def downgrade() -> None:
    op.drop_column("events", "actor")
    # DROP COLUMN is no UPDATE: the ledger's trigger lets it pass.
    for table in reversed(_RECORDS):
        op.drop_column(table, "actor")
