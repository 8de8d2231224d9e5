"""Query timing: each SQL statement's duration by repository operation, the time to get a
pooled connection, and a warning for statements slower than DB_SLOW_QUERY_MS.

The operation is a context variable the repository layer sets around each public method
(`ProductRepository.get`): a name from the code, so the label set is bounded, and neither
the SQL nor its parameters (password hashes, search terms) ever reach a label or the log.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool, Pool, PoolProxiedConnection

from src.core.logging import get_logger
from src.core.metrics import observe_pool_wait, observe_query

UNATTRIBUTED = "<unattributed>"  # a statement outside any repository method (e.g. a flush)
_STARTED = "stockroom_query_started"
SLOW_QUERY_OPTION = "stockroom_slow_query_seconds"

_operation: ContextVar[str] = ContextVar("stockroom_db_operation", default=UNATTRIBUTED)
log = get_logger("stockroom.db")

P = ParamSpec("P")
R = TypeVar("R")


def labelled(
    function: Callable[P, Coroutine[Any, Any, R]], operation: str
) -> Callable[P, Coroutine[Any, Any, R]]:
    """`function`, with its statements attributed to `operation`. The outermost operation
    wins: a repository method calling another keeps its own name on both's statements."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _operation.get() is not UNATTRIBUTED:
            return await function(*args, **kwargs)
        token = _operation.set(operation)
        try:
            return await function(*args, **kwargs)
        finally:
            _operation.reset(token)

    run.__dict__["labelled_original"] = function
    return run


def unlabelled(function: Any) -> Any:
    """The function `labelled` wrapped (or `function` itself)."""
    return getattr(function, "labelled_original", function)


def instrument(engine: Engine, *, slow_query_ms: int) -> None:
    """Time every statement `engine` runs (the sync engine behind an AsyncEngine)."""
    threshold = slow_query_ms / 1000
    # Also read by statements that bypass these events (src.core.prepared).
    engine.update_execution_options(**{SLOW_QUERY_OPTION: threshold})

    def started(conn: Any, *_: Any) -> None:
        conn.info[_STARTED] = time.perf_counter()

    def finished(conn: Any, *_: Any) -> None:
        begun = conn.info.pop(_STARTED, None)
        if begun is None:
            return
        record_query(time.perf_counter() - begun, threshold)

    event.listen(engine, "before_cursor_execute", started)
    event.listen(engine, "after_cursor_execute", finished)


def record_query(elapsed: float, threshold: float) -> None:
    """Observe one statement's duration under the current operation; log it when slow."""
    operation = _operation.get()
    observe_query(operation, elapsed)
    if elapsed > threshold:
        log.warning("slow_query", operation=operation, duration_ms=round(elapsed * 1000, 2))


class _TimedCheckout(Pool):
    def connect(self) -> PoolProxiedConnection:
        begun = time.perf_counter()
        try:
            return super().connect()
        finally:
            observe_pool_wait(time.perf_counter() - begun)


class TimedQueuePool(_TimedCheckout, AsyncAdaptedQueuePool):
    """The async engine's usual pool, observing how long each checkout takes."""

    _sqla_logger_namespace = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"  # log as before


class TimedNullPool(_TimedCheckout, NullPool):
    """No pooling (PgBouncer pools), observing how long opening each connection takes."""

    _sqla_logger_namespace = "sqlalchemy.pool.impl.NullPool"
