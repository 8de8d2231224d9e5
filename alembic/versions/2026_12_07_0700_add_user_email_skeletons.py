"""Add users.email_skeleton: each address's TR39 confusable skeleton, unique, so a look-alike
of an existing account (`adm\u0131n@example.com` beside `admin@example.com`) is refused.

Existing rows are backfilled oldest first. Should two existing accounts already look alike,
the older keeps the skeleton and the newer gets it suffixed with its id (a space cannot occur
in an address, so no new account can match that), and a warning names both by id: an admin
decides whether the newer one is an impostor. Its skeletons are TR39's of the address as
stored; 0012_email_skeletons_folded recomputes them with the app's later rule.

Revision ID: 0011_email_skeletons
Revises: 0010_webhooks
Create Date: 2026-12-07 07:00:00.000000+00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from icu import SpoofChecker

revision: str = "0011_email_skeletons"
down_revision: str | Sequence[str] | None = "0010_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    op.add_column("users", sa.Column("email_skeleton", sa.Text(), nullable=True))
    connection = op.get_bind()
    checker = SpoofChecker()
    owners: dict[str, str] = {}
    rows = connection.execute(sa.text("SELECT id, email FROM users ORDER BY created_at, id"))
    for user_id, email in rows.all():
        skeleton = str(checker.getSkeleton(0, email))
        if skeleton in owners:
            # Ids, not addresses: a migration's log is no place for personal data.
            _log.warning(
                "user %s looks like the older user %s: review it", user_id, owners[skeleton]
            )
            skeleton = f"{skeleton} {user_id}"
        else:
            owners[skeleton] = str(user_id)
        connection.execute(
            sa.text("UPDATE users SET email_skeleton = :skeleton WHERE id = :id"),
            {"skeleton": skeleton, "id": user_id},
        )
    op.alter_column("users", "email_skeleton", nullable=False)
    op.create_index("uq_users_email_skeleton", "users", ["email_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_email_skeleton", table_name="users")
    op.drop_column("users", "email_skeleton")
