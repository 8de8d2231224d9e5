"""The HTTP/1.1 protocol `stockroom serve` runs: uvicorn's httptools implementation (the C
parser llhttp) with limits on the size of a request's headers and on the time to receive
them and its body.

uvicorn has no header size limit for httptools and no request timeout at all:
`timeout_keep_alive` covers the idle time between requests and stops counting at the first
byte, so a client sending a byte now and then (slowloris) held a connection forever. Here a
deadline runs while a request is being received: REQUEST_HEADER_TIMEOUT_SECONDS from the
connection (or the first byte of the next request) until the end of its headers, then
REQUEST_BODY_TIMEOUT_SECONDS until the end of its body. It is never armed while the app
works or responds, so long responses (event streams) are unaffected. Oversized headers get
431, a deadline passed gets 408, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from src.config import get_settings

PROTOCOL = "src.core.http_protocol:GuardedHttpToolsProtocol"  # for uvicorn's `http` setting

Part = Literal["headers", "body"]


def _answer(status: int, title: str, detail: str) -> bytes:
    """A whole response, written before any request reached the app (so no request id)."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n"
        "x-content-type-options: nosniff\r\n"
        "cache-control: no-store\r\n\r\n"
    )
    return head.encode("ascii") + body


class _HeadersTooLarge(Exception):
    """Raised in a parser callback to stop httptools before the request reaches the app."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.max_header_bytes = settings.http.max_header_bytes
        self.timeouts: dict[Part, float] = {
            "headers": settings.http.request_header_timeout_seconds,
            "body": settings.http.request_body_timeout_seconds,
        }
        self._receiving: Part | None = None  # the part of a request the peer is sending
        self._moved_on = False  # the peer began another part during this read
        self._deadline: asyncio.TimerHandle | None = None
        self._too_large = False
        self._refusal: str | None = None  # why the request was refused, when answered later
        # httptools buffers a header until its end and reports no offsets, so unfinished
        # headers are counted in whole reads: a read that ends inside them counts whole,
        # unless an earlier request ended in it (where this one began is unknown). Complete
        # headers are measured from the parsed request line and headers.
        self._header_bytes = 0
        self._read_counts = False  # all of this read belongs to the current request

    # Deadlines: each part of a request is timed from the read in which it starts, unless
    # an earlier request is still being answered (pipelining: uvicorn answers in order);
    # then from the end of that answer. Between keep-alive requests uvicorn's own timer
    # runs.
    def _time(self) -> None:
        self._disarm()
        part = self._receiving
        if part is not None and not self._behind_another():
            self._deadline = self.loop.call_later(self.timeouts[part], self._expired, part)

    def _behind_another(self) -> bool:
        if self.pipeline:  # requests received whole, waiting (the current one among them)
            return True
        earlier = self.cycle if self._receiving != "body" else None
        return earlier is not None and not earlier.response_complete

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, part: Part) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # A connection that never started a request is just closed (like an idle one).
        if (part == "headers" and self._receiving) or (part == "body" and not self._answering()):
            self.transport.write(
                _answer(408, "Request Timeout", f"The request {part} took too long")
            )
        self.logger.info("Closed a connection whose request %s took too long.", part)
        self.transport.close()

    def _answering(self) -> bool:
        return self.cycle is not None and self.cycle.response_started

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn times nothing until a first response: a connection that never sends a
        # request gets the header deadline.
        self._deadline = self.loop.call_later(self.timeouts["headers"], self._expired, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # refused, waiting to answer in order: nothing more is parsed
        self._read_counts = True
        super().data_received(data)
        if self._refusal is not None:
            return
        if self._receiving == "headers":
            if self._read_counts:
                self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._too_large = True
                self.logger.warning("Invalid HTTP request received.")  # as uvicorn does
                self.send_400_response("Invalid HTTP request received.")
                return
        # Timed once per read, not per callback: a request that arrives whole in one read
        # (most do) needs no timer at all.
        if self._moved_on:
            self._moved_on = False
            self._time()

    # Parser callbacks (httptools calls them while parsing a read)
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._receiving = "headers"
        self._moved_on = True

    def on_headers_complete(self) -> None:
        # "M T HTTP/1.1\r\n", "N: V\r\n" each and "\r\n": the bytes the reads count.
        size = len(self.parser.get_method()) + len(self.url) + 14
        size += sum(len(name) + len(value) + 4 for name, value in self.headers)
        if max(size, self._header_bytes) > self.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge  # uvicorn then calls send_400_response
        super().on_headers_complete()
        self._receiving = "body"
        self._moved_on = True

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._receiving = None
        self._read_counts = False
        self._moved_on = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self._refusal is not None:
            self.send_400_response(self._refusal)
        elif self._deadline is None:
            self._time()  # a request received meanwhile is timed from now

    def send_400_response(self, msg: str) -> None:
        # httptools parses pipelined requests ahead of their turn: a refusal waits for the
        # answers to the requests before it, so that answers stay in order.
        self._disarm()
        self._refusal = msg
        if self._behind_another():
            self.flow.pause_reading()
        elif not self._too_large:
            super().send_400_response(msg)
        else:
            limit = self.max_header_bytes
            self.logger.info("Refused a request whose headers exceed %d bytes.", limit)
            self.transport.write(
                _answer(
                    431,
                    "Request Header Fields Too Large",
                    f"The request line and headers exceed {limit} bytes",
                )
            )
            self.transport.close()
