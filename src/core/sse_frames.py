"""Server-Sent Events on the wire: one event's frame, encoded once.

The same bytes sse-starlette's `ServerSentEvent.encode()` writes with its default `\r\n`
separator (`id:`, `event:`, one `data:` line per line of data, a blank line), without its
per-call buffer and regular expressions: an event fanned out to many streams is encoded
once, and a stream sends what it has in one ASGI message of the joined frames (the
response sends `bytes` as they are).
"""

from __future__ import annotations

import re

_SEP = "\r\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def sse_frame(id_: str, event: str, data: str) -> bytes:
    """One event's frame: `id:`, `event:` (line breaks removed) and its `data:` lines."""
    head = f"id: {_LINE_BREAK.sub('', id_)}{_SEP}event: {_LINE_BREAK.sub('', event)}{_SEP}"
    lines = _LINE_BREAK.split(data)
    body = "".join(f"data: {line}{_SEP}" for line in lines)
    return (head + body + _SEP).encode("utf-8")
