"""What a database error means, decided in one place.

Only a lost or unreachable database is an outage (503, retry): a connection that died or was
invalidated, SQLSTATE class 08 (connection exception), 57P0x (the server shutting down,
starting up, or dropping the database), 53300 (no connection slots left), or a connection
attempt that failed at the socket (refused, unreachable, timed out). An `OSError` or
`TimeoutError` anywhere else is the application's own failure, not the database's.
Only the constraints named in `EXPECTED_CONFLICTS` are conflicts a client can cause (409);
any other violation is a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.exceptions import Conflict, DomainError, Duplicate, at_field

# The constraints clients run into by racing each other or resending a duplicate, with the
# problem each is (a duplicate names its field, so a form can show it there). Services
# translate most of them where they write, naming the value; this is the last line for the
# paths they do not (and for races they cannot see coming).
# An email's problems name the field but never repeat the address: it is personal data.
_TAKEN_EMAIL = "A user with this email already exists"
_LOOK_ALIKE_EMAIL = "This email looks like an existing user's: choose another"
EXPECTED_CONFLICTS: dict[str, Callable[[], DomainError]] = {
    "uq_users_email_lower": lambda: Conflict(_TAKEN_EMAIL, **at_field("email", _TAKEN_EMAIL)),
    "uq_users_email_skeleton": lambda: Conflict(
        _LOOK_ALIKE_EMAIL, **at_field("email", _LOOK_ALIKE_EMAIL)
    ),
    "uq_products_sku_lower": lambda: Duplicate(
        "A product with this SKU already exists", field="sku"
    ),
    "uq_locations_code_lower": lambda: Duplicate(
        "A location with this code already exists", field="code"
    ),
    "ck_stock_levels_on_hand_non_negative": lambda: Conflict("Not enough stock on hand"),
    "ck_stock_levels_reserved_within_on_hand": lambda: Conflict(
        "Not enough stock available: the rest is reserved"
    ),
    "ck_stock_levels_on_hand_within_bounds": lambda: Conflict(
        "On-hand stock would exceed 1e12 units at this location"
    ),
}

_TOO_MANY_CONNECTIONS = "53300"


class DatabaseUnreachable(ConnectionError):
    """Connecting to the database failed at the network level (refused, unreachable, timed
    out); the original error is its `__cause__`. Still an `OSError`, for callers that only
    care that something is unreachable (readiness, background loops)."""


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a database error (e.g. 22003 numeric out of range), whether
    raised by asyncpg itself or wrapped by SQLAlchemy's DBAPI adapter."""
    orig = getattr(error, "orig", None)
    for candidate in (error, orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if code:
            return str(code)
    return None


def is_connection_lost(error: BaseException) -> bool:
    """True when the database is gone or unreachable (an outage), not when it refused a
    statement."""
    if isinstance(error, DatabaseUnreachable):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    state = sqlstate(error)
    return state is not None and (
        state.startswith("08") or state.startswith("57P0") or state == _TOO_MANY_CONNECTIONS
    )


def guard_connects(engine: AsyncEngine) -> None:
    """Mark socket errors of the engine's connection attempts as `DatabaseUnreachable`."""
    target = engine.sync_engine
    if not event.contains(target, "do_connect", _connect):
        event.listen(target, "do_connect", _connect)


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:  # includes ConnectionRefusedError, socket.gaierror, TimeoutError
        raise DatabaseUnreachable(type(exc).__name__) from exc
