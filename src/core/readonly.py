"""Sessions of safe requests (GET, HEAD, OPTIONS): statements run without BEGIN/COMMIT.

A read needs no explicit transaction: each statement is consistent on its own (one snapshot),
and leaving out BEGIN and COMMIT saves two of a read's four round trips. The catch of
autocommit is that a write would commit at once, whatever happens to the request after it;
so a session marked here refuses, loudly (a 500 and a traceback, it is a bug), every
statement that is not a plain read: DML, row locks, advisory locks, NOTIFY, sequences, and
any flush of ORM changes. The check is on the session, so it holds in the test suite too,
where reads run in a savepoint of the test's transaction.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.elements import TextClause

_READ_ONLY = "stockroom.read_only"
# In SQL text: what a SELECT could still change (or lock) on the server.
_SIDE_EFFECTS = re.compile(
    r"\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE|KEY\s+SHARE)\b|pg_notify|advisory|nextval|setval"
    r"|\b(INSERT|UPDATE|DELETE|MERGE)\b",
    re.IGNORECASE,
)


class WriteInReadOnlyRequest(RuntimeError):
    """A safe request tried to write: a bug, never an autocommitted change."""


def mark_read_only(session: AsyncSession) -> None:
    session.sync_session.info[_READ_ONLY] = True


def is_read_only(session: AsyncSession) -> bool:
    return bool(session.sync_session.info.get(_READ_ONLY))


@lru_cache(maxsize=512)
def plain_select_text(text: str) -> bool:
    """Whether SQL text is a SELECT that changes and locks nothing. Cached: the scan of a
    long statement's text cost more than running it, and hot statements are constants."""
    text = text.lstrip()
    return text[:6].upper() == "SELECT" and not _SIDE_EFFECTS.search(text)


def _plain_read(statement: Any) -> bool:
    if isinstance(statement, TextClause):
        return plain_select_text(statement.text)
    if not getattr(statement, "is_select", False):
        return False
    return getattr(statement, "_for_update_arg", None) is None


@event.listens_for(Session, "do_orm_execute")
def _refuse_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(_READ_ONLY) and not _plain_read(state.statement):
        raise WriteInReadOnlyRequest(
            f"a {state.statement.__class__.__name__} statement in a read-only request session"
        )


@event.listens_for(Session, "before_flush")
def _refuse_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    if session.info.get(_READ_ONLY) and (
        session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
    ):
        raise WriteInReadOnlyRequest("a flush of changes in a read-only request session")
