"""Slow and huge requests against a real `stockroom serve`: oversized headers are refused,
connections that do not finish sending a request in time are closed, and ordinary
requests, bodies and long responses (event streams) are unaffected."""

from __future__ import annotations

import asyncio
import re
import select
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from src.models.user import Role
from tests.support.factories import MakeUser, login_headers
from tests.support.servers import ServerProcess, serve_process, served
from tests.support.settings import TEST_SECRET_KEY
from tests.support.sse import STOCK_STREAM as EVENTS

pytestmark = pytest.mark.server

TIMEOUT = 1.0  # seconds allowed for headers, and again for a body, in these tests
LIMITS = {
    "MAX_HEADER_BYTES": "8192",
    "REQUEST_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
    "REQUEST_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    "SSE_HEARTBEAT_SECONDS": "0.3",
}
CLOSED_WITHIN = TIMEOUT + 2.5  # the deadline, plus slack for a busy machine


@pytest.fixture(scope="module")
def server(
    committed_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("limits") / "data"
    with serve_process(committed_database_url, data, TEST_SECRET_KEY, env=LIMITS) as process:
        yield process


def connect(server: ServerProcess) -> socket.socket:
    address = urlsplit(server.base)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took
    (`limit` + 1 when it was still open by then)."""
    started = time.monotonic()
    received = b""
    sock.settimeout(0.2)
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, time.monotonic() - started
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    return received, limit + 1


def test_oversized_header_is_refused(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"GET /api/health HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"a" * 20_000 + b"\r\n\r\n"
        )
        answer, took = read_until_closed(sock, CLOSED_WITHIN)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert took <= CLOSED_WITHIN


def send_until_closed(sock: socket.socket, piece: bytes, *, every: float, limit: float) -> float:
    """Send `piece` every `every` seconds until the server closes the connection: how long
    that took (`limit` + 1 when it was still open by then). Answers it sends are skipped."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            sock.sendall(piece)
            readable, _, _ = select.select([sock], [], [], every)
            if readable and not sock.recv(65536):
                break
        except OSError:  # broken pipe, reset: closed
            break
    else:
        return limit + 1
    return time.monotonic() - started


def test_a_flood_of_header_bytes_is_cut_off_early(server: ServerProcess) -> None:
    """The probe's 96 MiB header: the server hangs up long before the end."""
    with connect(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\nX-Filler: ")
        took = send_until_closed(sock, b"a" * 65536, every=0, limit=CLOSED_WITHIN)
    assert took <= CLOSED_WITHIN


def test_many_headers_within_the_limit_are_served(server: ServerProcess) -> None:
    headers = {f"X-Extra-{i}": "v" * 50 for i in range(60)}  # about 4 KiB
    response = httpx.get(f"{server.base}/api/health", headers=headers, timeout=10)
    assert response.status_code == 200


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"GET /api/health HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /api/nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /api/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        answer, took = read_until_closed(sock, CLOSED_WITHIN)
    assert re.findall(rb"HTTP/1\.1 (\d+) ", answer) == [b"200", b"404", b"200"]
    assert took <= CLOSED_WITHIN  # closed as the last one asked


def test_half_sent_headers_are_closed_after_the_timeout(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\n")  # no blank line: never done
        answer, took = read_until_closed(sock, CLOSED_WITHIN)
    assert took <= CLOSED_WITHIN
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        _, took = read_until_closed(sock, CLOSED_WITHIN)
    assert took <= CLOSED_WITHIN


def test_trickled_headers_do_not_extend_the_deadline(server: ServerProcess) -> None:
    """Slowloris: a byte every 0.2 s keeps the connection busy but never finishes."""
    with connect(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\n")
        took = send_until_closed(sock, b"X", every=0.2, limit=CLOSED_WITHIN)
    assert took <= CLOSED_WITHIN


def test_a_body_that_never_arrives_is_closed_after_the_timeout(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"grant_type=password"
        )
        answer, took = read_until_closed(sock, CLOSED_WITHIN)
    assert took <= CLOSED_WITHIN
    assert answer.startswith(b"HTTP/1.1 408 ")
    time.sleep(0.5)
    assert "unhandled_exception" not in server.output()  # the app saw a disconnect, calmly


def test_keep_alive_and_bodies_still_work(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base, timeout=10) as client:
        first = client.get("/api/health")
        time.sleep(TIMEOUT / 2)
        second = client.get("/api/health")  # same connection, headers timed afresh
        login = client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "no@example.com", "password": "x" * 12},
        )
    assert first.status_code == second.status_code == 200
    assert login.status_code in {400, 401}  # the body was read and judged


@pytest.fixture
async def streaming_server(
    committed_database_url: str, tmp_path: Path
) -> AsyncIterator[ServerProcess]:
    async with served(committed_database_url, tmp_path / "data", TEST_SECRET_KEY, env=LIMITS) as s:
        yield s


async def test_a_long_response_outlives_the_timeouts(
    streaming_server: ServerProcess, committed_make_user: MakeUser
) -> None:
    """The deadlines cover receiving the request only: an event stream runs on."""
    async with httpx.AsyncClient(base_url=streaming_server.base, timeout=10) as client:
        headers = await login_headers(client, await committed_make_user(role=Role.VIEWER))
        async with client.stream("GET", EVENTS, headers=headers) as response:
            assert response.status_code == 200
            started = time.monotonic()
            beats = 0
            async with asyncio.timeout(10):
                async for line in response.aiter_lines():
                    beats += line.startswith(": ping")
                    if time.monotonic() - started > 3 * TIMEOUT:
                        break
    assert beats >= 3
