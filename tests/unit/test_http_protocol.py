"""The request limits of `stockroom serve`'s HTTP protocol, driven in memory with short
timeouts (tests/integration/http/test_limits.py tries the same against a real server)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from pytest_mock import MockerFixture
from uvicorn.server import ServerState

from src.config import Settings
from src.core.http_protocol import PROTOCOL, GuardedHttpToolsProtocol
from tests.support.settings import TEST_SECRET_KEY

TIMEOUT = 0.3
EARLY = 0.05  # well before a deadline, even on a busy machine
GET = b"GET /things HTTP/1.1\r\nHost: t\r\n\r\n"


class Transport(asyncio.Transport):
    """Records what the protocol writes and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.data = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += bytes(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class App:
    """Answers 200 with the body it read, after `delay` seconds; records what it received."""

    def __init__(self, delay: float = 0) -> None:
        self.delay = delay
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.sleep(self.delay)
        length = str(len(body) + 4).encode()
        headers = [(b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"got:" + body})


@pytest.fixture(autouse=True)
def _short_limits(mocker: MockerFixture) -> None:
    settings = Settings(
        secret_key=TEST_SECRET_KEY,
        max_header_bytes=1024,
        request_header_timeout_seconds=TIMEOUT,
        request_body_timeout_seconds=TIMEOUT,
        _env_file=None,
    )
    mocker.patch("src.core.http_protocol.get_settings", return_value=settings)


def connect(app: App) -> tuple[GuardedHttpToolsProtocol, Transport]:
    config = uvicorn.Config(app, log_config=None, lifespan="off", http=PROTOCOL)
    config.load()
    protocol = GuardedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def settle(seconds: float = 0) -> None:
    await asyncio.sleep(seconds)
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_request_within_the_limits_is_served_and_the_connection_kept() -> None:
    protocol, transport = connect(App())
    protocol.data_received(GET)
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert transport.data.endswith(b"got:")
    await settle(TIMEOUT * 3)  # idle keep-alive: uvicorn's timer (5 s), not the deadline
    assert not transport.closed
    protocol.connection_lost(None)


async def test_a_long_answer_is_not_cut_by_the_deadlines() -> None:
    protocol, transport = connect(App(delay=TIMEOUT * 4))
    protocol.data_received(GET)
    await settle(TIMEOUT * 6)
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert not transport.closed
    protocol.connection_lost(None)


async def test_headers_that_arrive_whole_but_too_big_get_431() -> None:
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(
        b"GET /things HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
    )
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"application/problem+json" in transport.data
    assert b'"status": 431' in transport.data
    assert transport.closed
    assert app.messages == []  # the app never saw it


async def test_headers_that_keep_coming_get_431_once_past_the_limit() -> None:
    protocol, transport = connect(App())
    protocol.data_received(b"GET /things HTTP/1.1\r\nHost: t\r\nX-Big: ")
    for _ in range(5):
        if transport.closed:
            break
        protocol.data_received(b"a" * 600)
    assert transport.data.startswith(b"HTTP/1.1 431 ")
    assert transport.closed


async def test_other_malformed_requests_keep_uvicorns_400() -> None:
    protocol, transport = connect(App())
    protocol.data_received(b"NOT HTTP AT ALL\r\n\r\n")
    assert transport.data.startswith(b"HTTP/1.1 400 ")
    assert transport.closed


async def test_half_sent_headers_get_408_after_the_timeout() -> None:
    protocol, transport = connect(App())
    protocol.data_received(b"GET /things HTTP/1.1\r\nHost: t\r\n")
    await asyncio.sleep(EARLY)
    assert not transport.closed
    protocol.data_received(b"X-Slow: 1\r\n")  # trickling does not extend the deadline
    await settle(TIMEOUT)
    assert transport.data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert transport.closed


async def test_a_silent_connection_is_closed_without_an_answer() -> None:
    _, transport = connect(App())
    await settle(TIMEOUT * 2)
    assert transport.closed
    assert transport.data == b""


async def test_a_body_that_stops_arriving_gets_408_and_the_app_a_disconnect() -> None:
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(b"POST /things HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
    await settle(TIMEOUT * 2)
    protocol.connection_lost(None)  # what the event loop reports after the close
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 408 ")
    assert transport.closed
    assert app.messages[-1]["type"] == "http.disconnect"


async def test_a_whole_body_in_time_is_read() -> None:
    protocol, transport = connect(App())
    protocol.data_received(b"POST /things HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
    await asyncio.sleep(EARLY)
    protocol.data_received(b"67890")
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert transport.data.endswith(b"got:1234567890")
    await settle(TIMEOUT * 2)
    assert not transport.closed
    protocol.connection_lost(None)


async def test_the_next_request_on_a_kept_connection_is_timed_from_its_first_byte() -> None:
    protocol, transport = connect(App())
    protocol.data_received(GET)
    await settle(TIMEOUT * 2)  # idle longer than the header timeout: still open
    assert not transport.closed
    transport.data = b""
    protocol.data_received(b"GET /again HTTP/1.1\r\n")
    await asyncio.sleep(EARLY)
    assert not transport.closed
    protocol.data_received(b"Host: t\r\n\r\n")
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    protocol.data_received(b"GET /third HTTP/1.1\r\n")  # and then stalls
    await settle(TIMEOUT * 2)
    assert b"HTTP/1.1 408 " in transport.data
    assert transport.closed


# httptools parses every byte it is given, pipelined requests included, and reports no
# offsets: the header size is counted per read, and answers must stay in order.


async def test_headers_trickling_in_small_reads_get_431_before_they_end() -> None:
    app = App()
    protocol, transport = connect(app)
    start = b"GET /things HTTP/1.1\r\n"
    protocol.data_received(start)
    line = b"X-Filler: " + b"a" * 20 + b"\r\n"
    sent = len(start)
    while not transport.closed and sent < 4000:
        protocol.data_received(line)
        sent += len(line)
    assert transport.data.startswith(b"HTTP/1.1 431 ")
    assert 1024 < sent <= 1024 + len(line)  # at the first read past the limit
    assert app.messages == []


@pytest.mark.parametrize(("size", "status"), [(1024, b"200"), (1025, b"431")])
@pytest.mark.parametrize("read", [1, 7, 4096])
async def test_the_limit_counts_the_request_line_and_headers_however_they_arrive(
    size: int, status: bytes, read: int
) -> None:
    protocol, transport = connect(App())
    head = b"GET /things HTTP/1.1\r\nHost: t\r\nX-Fill: "
    request = head + b"a" * (size - len(head) - 4) + b"\r\n\r\n"
    assert len(request) == size  # the limit is 1024
    for start in range(0, size, read):
        protocol.data_received(request[start : start + read])
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 " + status + b" ")
    protocol.connection_lost(None)


async def test_pipelined_requests_are_answered_in_order() -> None:
    protocol, transport = connect(App())
    protocol.data_received(
        b"POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /two HTTP/1.1\r\nHost: t\r\n\r\n"
        b"POST /three HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
    )
    await settle(EARLY)
    answers = transport.data.split(b"HTTP/1.1 200 OK\r\n")
    assert [answer.rsplit(b"\r\n\r\n", 1)[-1] for answer in answers[1:]] == [
        b"got:abc",
        b"got:",
        b"got:xy",
    ]
    assert not transport.closed
    protocol.connection_lost(None)


async def test_a_pipelined_request_is_timed_from_the_answer_before_it() -> None:
    protocol, transport = connect(App(delay=TIMEOUT * 2))
    protocol.data_received(GET + b"GET /next HTTP/1.1\r\n")  # the second one stalls
    await settle(TIMEOUT * 2 + EARLY)  # the first is answered now: the deadline starts
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert not transport.closed
    await settle(TIMEOUT)
    assert transport.data.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 408 " in transport.data
    assert transport.closed


async def test_an_oversized_pipelined_request_is_refused_after_the_answer_before_it() -> None:
    app = App(delay=EARLY)
    protocol, transport = connect(app)
    protocol.data_received(GET + b"GET /big HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 900)
    protocol.data_received(b"a" * 200)  # past the limit, the first still being answered
    protocol.data_received(b"\r\n\r\n")
    assert transport.data == b""
    await settle(EARLY * 2)
    first, refusal = transport.data.split(b"HTTP/1.1 431 ")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert first.endswith(b"got:")
    assert b'"status": 431' in refusal
    assert transport.closed
    assert [m["type"] for m in app.messages] == ["http.request"]  # only the first one


async def test_a_malformed_pipelined_request_is_refused_after_the_answer_before_it() -> None:
    protocol, transport = connect(App(delay=EARLY))
    protocol.data_received(GET + b"NOT HTTP AT ALL\r\n\r\n")
    assert transport.data == b""
    await settle(EARLY * 2)
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 400 " in transport.data
    assert transport.closed


async def test_a_whole_oversized_request_after_another_in_one_read_gets_431() -> None:
    protocol, transport = connect(App())
    protocol.data_received(
        GET + b"GET /big HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
    )
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 431 " in transport.data
    assert transport.closed


async def test_a_body_is_timed_from_the_end_of_its_headers() -> None:
    protocol, transport = connect(App())
    protocol.data_received(b"POST /things HTTP/1.1\r\nHost: t\r\n")
    await asyncio.sleep(TIMEOUT * 0.7)
    protocol.data_received(b"Content-Length: 4\r\n\r\n")  # headers in time; the body starts
    await asyncio.sleep(TIMEOUT * 0.7)  # past the header deadline, within the body's
    assert not transport.closed
    protocol.data_received(b"abcd")
    await settle()
    assert transport.data.startswith(b"HTTP/1.1 200 ")
    assert transport.data.endswith(b"got:abcd")
    protocol.connection_lost(None)
