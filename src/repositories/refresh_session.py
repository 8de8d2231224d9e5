from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, delete, func, select, update
from sqlalchemy.orm import aliased

from src.models.refresh_session import RefreshSession
from src.repositories.base import Repository


class RefreshSessionRepository(Repository[RefreshSession]):
    model = RefreshSession

    async def claim(self, token_hash: str) -> RefreshSession | None:
        """Mark a live, unused token used in one statement; None if it was not claimable.

        One conditional UPDATE decides a race between two refreshes with the same token:
        exactly one of them gets the row back (the others may get its successor in grace).
        """
        statement = (
            update(RefreshSession)
            .where(
                RefreshSession.token_hash == token_hash,
                RefreshSession.used_at.is_(None),
                RefreshSession.revoked_at.is_(None),
                RefreshSession.expires_at > func.now(),
            )
            .values(used_at=_statement_time())
            .returning(RefreshSession)
        )
        return await self.session.scalar(statement)

    async def successor_in_grace(
        self, token_hash: str, successor_hashes: list[str], grace: timedelta
    ) -> RefreshSession | None:
        """The live, unused successor of a token used less than `grace` ago, if any.

        Only the token just replaced has one: once its successor is used, older tokens get
        nothing (a replay of them is a theft)."""
        previous = aliased(RefreshSession)
        statement = (
            select(RefreshSession)
            .join(previous, previous.family_id == RefreshSession.family_id)
            .where(
                previous.token_hash == token_hash,
                previous.used_at > _statement_time() - grace,
                RefreshSession.token_hash.in_(successor_hashes),
                RefreshSession.used_at.is_(None),
                RefreshSession.revoked_at.is_(None),
                RefreshSession.expires_at > func.now(),
            )
        )
        return await self.session.scalar(statement)

    async def find(self, token_hash: str) -> RefreshSession | None:
        return await self.session.scalar(
            select(RefreshSession).where(RefreshSession.token_hash == token_hash)
        )

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self.session.execute(
            update(RefreshSession)
            .where(RefreshSession.family_id == family_id, RefreshSession.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )

    async def revoke_all_for_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            update(RefreshSession)
            .where(RefreshSession.user_id == user_id, RefreshSession.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )

    async def issue(
        self, *, user_id: uuid.UUID, family_id: uuid.UUID, token_hash: str, expires_at: datetime
    ) -> RefreshSession:
        return await self.add(
            RefreshSession(
                user_id=user_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at
            )
        )

    async def purge_expired(self, *, batch: int = 10_000) -> int:
        """Delete up to `batch` rows past their family's expiry; how many went. Used and
        revoked rows of live families stay: reuse detection needs them until the family
        expires. Rows another transaction holds are skipped, never waited for."""
        doomed = (
            select(RefreshSession.id)
            .where(RefreshSession.expires_at < func.now())
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        rows = await self.session.execute(
            delete(RefreshSession).where(RefreshSession.id.in_(doomed)).returning(RefreshSession.id)
        )
        return len(rows.all())


def _statement_time() -> ColumnElement[datetime]:
    # The time of this statement, not of the transaction's start: the grace window is
    # measured between two statements, whatever transactions they run in.
    return func.statement_timestamp(type_=DateTime(timezone=True))
