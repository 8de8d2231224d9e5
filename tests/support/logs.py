"""caplog for Stockroom's own log lines.

Our loggers write straight to stderr (src/core/logging.py), without stdlib LogRecords, so
pytest's caplog would not see them. While a test that asks for `caplog` runs, this puts a
processor just before the renderer that hands caplog each line's event dict as a record
(`record.msg` is the dict, `record.name` the logger), as the stdlib pipeline used to.
Like caplog's own handler, it is installed when the test body starts: an app built in a
fixture (which configures logging anew) keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.types import EventDict


@contextmanager
def lines_to(handler: logging.Handler) -> Iterator[None]:
    chain: list[Any] = structlog.get_config()["processors"]

    def capture(_: Any, __: str, event_dict: EventDict) -> EventDict:
        level = str(event_dict.get("level", "info")).upper()
        handler.handle(
            logging.makeLogRecord(
                {
                    "name": event_dict.get("logger", "root"),
                    "msg": dict(event_dict),
                    "levelname": level,
                    "levelno": logging.getLevelNamesMapping().get(level, logging.INFO),
                }
            )
        )
        return event_dict

    chain.insert(len(chain) - 1, capture)  # the last one renders
    try:
        yield
    finally:
        if capture in chain:
            chain.remove(capture)
