"""Side effects that belong to a transaction's commit, such as counting postings.

`after_commit(session, action)` runs `action` once the session's outermost transaction has
committed, and never if it rolls back or is closed without committing, so a metric cannot
count work the database threw away. It works the same whoever commits the session.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_PENDING = "stockroom.after_commit"


def after_commit(session: AsyncSession | Session, action: Callable[[], object]) -> None:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the work is not durable yet
        return
    for action in session.info.pop(_PENDING, ()):
        action()


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed (already run) or rolled back: forget them
        session.info.pop(_PENDING, None)
