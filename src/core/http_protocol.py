"""The HTTP/1.1 protocol `stockroom serve` runs: uvicorn's h11 implementation with limits on
the size of a request's headers and on the time to receive them and its body.

uvicorn bounds headers only with h11 (`h11_max_incomplete_event_size`; httptools has no
setting) and has no request timeout at all: `timeout_keep_alive` covers the idle time
between requests and stops counting at the first byte, so a client sending a byte now
and then (slowloris) held a connection forever. Here a deadline runs while a request is
being received: REQUEST_HEADER_TIMEOUT_SECONDS from the connection (or the previous
response) until the end of its headers, then REQUEST_BODY_TIMEOUT_SECONDS until the end of
its body. It is never armed while the app works or responds, so long responses (event
streams) are unaffected. Oversized headers get 431, a deadline passed gets 408, and the
connection is closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from src.config import get_settings

PROTOCOL = "src.core.http_protocol:GuardedH11Protocol"  # for uvicorn's `http` setting


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


class _Connection(h11.Connection):
    """Refuses a request whose line and headers exceed `max_incomplete_event_size` bytes,
    and remembers why the peer's data was refused (431 for oversized headers).

    h11 applies that size only while a request is incomplete: one that arrives whole in a
    single read (up to the transport's read size) would pass unchecked without the count
    here."""

    refused_with = 400

    def __init__(self, max_header_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self.max_header_bytes = max_header_bytes

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                size = len(event.method) + len(event.target) + 11  # "M T HTTP/1.1\r\n"
                size += sum(len(name) + len(value) + 4 for name, value in event.headers)
                if size > self.max_header_bytes:
                    raise h11.RemoteProtocolError("Headers too large", error_status_hint=431)
            return event
        except h11.RemoteProtocolError as exc:
            self.refused_with = exc.error_status_hint
            raise


class GuardedH11Protocol(H11Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.max_header_bytes = settings.max_header_bytes
        self.header_timeout = settings.request_header_timeout_seconds
        self.body_timeout = settings.request_body_timeout_seconds
        self.conn: _Connection = _Connection(self.max_header_bytes)
        self._phase: object = None  # h11.IDLE (headers), h11.SEND_BODY (body) or None
        self._deadline: asyncio.TimerHandle | None = None
        self._received = False  # any byte of the request the deadline is running for

    # The deadline follows what the peer is sending: a request's headers (their_state IDLE),
    # its body (SEND_BODY), or nothing more (DONE while the app answers, or closing). Between
    # keep-alive requests uvicorn's own timer runs; the header deadline starts at the next
    # request's first byte.
    def _watch(self) -> None:
        state = self.conn.their_state
        phase = state if state is h11.IDLE or state is h11.SEND_BODY else None
        if phase is not self._phase:
            self._phase = phase
            if phase is h11.IDLE and self._received:
                self._arm(self.header_timeout, "headers")
            elif phase is h11.SEND_BODY:
                self._arm(self.body_timeout, "body")
            else:
                self._disarm()

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, part: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # A connection that never started a request is just closed (like an idle one).
        if (part == "headers" and self._received) or (part == "body" and not self._answering()):
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
        self._phase = h11.IDLE
        self._arm(self.header_timeout, "headers")

    def data_received(self, data: bytes) -> None:
        if self._phase is h11.IDLE and not self._received:
            # The first byte of a request: its headers are timed from here.
            self._received = True
            self._arm(self.header_timeout, "headers")
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._received = bool(self.conn.trailing_data[0])  # a pipelined request's bytes
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if self.conn.refused_with != 431:
            super().send_400_response(msg)
            return
        self._disarm()
        self.logger.info("Refused a request whose headers exceed %d bytes.", self.max_header_bytes)
        self.transport.write(
            _answer(
                431,
                "Request Header Fields Too Large",
                f"The request line and headers exceed {self.max_header_bytes} bytes",
            )
        )
        self.transport.close()
