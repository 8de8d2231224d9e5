"""Index refresh sessions by expiry, for the background purge of expired ones.

Revision ID: 0005_session_expiry
Revises: 0004_list_indexes
Create Date: 2026-12-01 17:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_session_expiry"
down_revision: str | Sequence[str] | None = "0004_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_refresh_sessions_expires_at"), "refresh_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_sessions_expires_at"), table_name="refresh_sessions")
