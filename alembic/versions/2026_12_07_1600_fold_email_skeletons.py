"""Recompute users.email_skeleton with the app's rule: NFKC and case-folded before and after
TR39's skeleton, so `J0HN@example.com` reads like `john@example.com` (0011 took the skeleton
of the address as stored, where case and a digit zero kept such pairs apart).

Every row is recomputed oldest first, with 0011's rule for accounts that already look
alike: the older keeps the skeleton, the newer gets it suffixed with its id (no address holds
a space), and a warning names both by id. The unique index is rebuilt afterwards, so no
transient clash between an old and a new skeleton can stop the update. Downgrading keeps
the folded skeletons (they stay unique).

Revision ID: 0012_email_skeletons_folded
Revises: 0011_email_skeletons
Create Date: 2026-12-07 16:00:00.000000+00:00
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from icu import SpoofChecker

revision: str = "0012_email_skeletons_folded"
down_revision: str | Sequence[str] | None = "0011_email_skeletons"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration")
_BATCH = 1000


# A copy of `canonical_email` and `email_skeleton` (src/core/emails.py) as they are at this
# revision: a migration must keep doing what it did, whatever the app's code becomes
# (tests/integration/operations/test_migrations.py checks the result against the app; should the app's
# rule change again, a new revision recomputes every skeleton).
def _canonical(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def _skeleton(checker: SpoofChecker, address: str) -> str:
    return _canonical(str(checker.getSkeleton(0, _canonical(address))))


def upgrade() -> None:
    op.drop_index("uq_users_email_skeleton", table_name="users")
    connection = op.get_bind()
    checker = SpoofChecker()
    owners: dict[str, str] = {}
    update = sa.text("UPDATE users SET email_skeleton = :skeleton WHERE id = :id")
    batch: list[dict[str, object]] = []
    rows = connection.execute(sa.text("SELECT id, email FROM users ORDER BY created_at, id"))
    for user_id, email in rows.all():
        skeleton = _skeleton(checker, email)
        if skeleton in owners:
            _log.warning(
                "user %s looks like the older user %s: review it", user_id, owners[skeleton]
            )
            skeleton = f"{skeleton} {user_id}"
        else:
            owners[skeleton] = str(user_id)
        batch.append({"skeleton": skeleton, "id": user_id})
        if len(batch) == _BATCH:
            connection.execute(update, batch)  # a list of parameters: executemany
            batch = []
    if batch:
        connection.execute(update, batch)
    op.create_index("uq_users_email_skeleton", "users", ["email_skeleton"], unique=True)


def downgrade() -> None:
    pass  # 0011's index holds the folded skeletons as well as its own
