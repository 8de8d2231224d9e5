"""The load generator: a deliberately small HTTP/1.1 keep-alive client on asyncio (uvloop
when installed), one connection per virtual user, closed-loop: each user sends its next
request as soon as the previous answer has been read.

It parses only what it needs (status line, Content-Length or chunked framing) so that on a
2-core machine, where it shares the CPUs with the servers and PostgreSQL, as little CPU as
possible goes to the client. Bodies are kept only for scenarios that read them (cursors).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from array import array
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TypeVar

MAX_HEADER_BYTES = 64 * 1024
T = TypeVar("T")


class HttpConnection:
    """One keep-alive connection; reconnects transparently after the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, limit=MAX_HEADER_BYTES
        )

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request (complete bytes); (status, body)."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        start = lower.find(b"\r\ncontent-length:")
        if start >= 0:
            end = lower.index(b"\r\n", start + 2)
            body = await self.reader.readexactly(int(lower[start + 17 : end]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body = await self.reader.read()
            await self.close()
            return status, body
        if b"\r\nconnection: close" in lower:
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


# A scenario gives each virtual user a function that builds its next request, and a hook
# that sees each answer (status, body): (make_request, on_response).
UserScript = tuple[Callable[[], bytes], Callable[[int, bytes], None]]


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    elapsed: float = 0.0
    client_cpu: float = 0.0  # seconds of this process's CPU while measuring
    server_cpu: float = 0.0  # seconds of the server processes' CPU while measuring
    loadavg: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency in milliseconds at `fraction` (nearest rank)."""
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[rank] / 1e6

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu / self.requests if self.requests else float("nan")


def load_average() -> float:
    return os.getloadavg()[0]


def process_group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by every live process in a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, ..., utime (12th), stime (13th).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


async def _user(
    connection: HttpConnection,
    script: UserScript,
    deadline: float,
    budget: list[int],
    result: Result | None,
) -> None:
    make, seen = script
    while budget[0] > 0 and time.perf_counter() < deadline:
        budget[0] -= 1
        raw = make()
        began = time.perf_counter_ns()
        try:
            status, body = await connection.request(raw)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            await connection.close()
            status, body = 599, b""
        took = time.perf_counter_ns() - began
        seen(status, body)
        if result is not None:
            result.requests += 1
            result.latencies_ns.append(took)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if not 200 <= status < 300:
                result.errors += 1


async def drive(
    port: int,
    scripts: list[UserScript],
    *,
    seconds: float,
    warmup: float,
    max_requests: int,
    server_pgid: int | None,
) -> Result:
    """Warm up, then measure `seconds` (or `max_requests`) with one connection per script."""
    connections = [HttpConnection(port) for _ in scripts]
    try:
        await asyncio.gather(*(c.open() for c in connections))
        if warmup > 0:
            deadline = time.perf_counter() + warmup
            budget = [max_requests]
            await asyncio.gather(
                *(
                    _user(c, s, deadline, budget, None)
                    for c, s in zip(connections, scripts, strict=True)
                )
            )
        result = Result()
        cpu_before = process_group_cpu(server_pgid) if server_pgid else 0.0
        load_before, client_before = load_average(), time.process_time()
        began = time.perf_counter()
        budget = [max_requests]
        await asyncio.gather(
            *(
                _user(c, s, began + seconds, budget, result)
                for c, s in zip(connections, scripts, strict=True)
            )
        )
        result.elapsed = time.perf_counter() - began
        result.client_cpu = time.process_time() - client_before
        if server_pgid:
            result.server_cpu = process_group_cpu(server_pgid) - cpu_before
        result.loadavg = (load_before, load_average())
        return result
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)


async def _stream_open(port: int, raw: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MAX_HEADER_BYTES)
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    if int(head[9:12]) != 200:
        writer.close()
        raise RuntimeError(f"a stream was refused: {head[:200]!r}")
    return reader, writer


async def _stream_drain(reader: asyncio.StreamReader, received: list[int], index: int) -> None:
    """Read what the server sends as fast as it comes (a client that keeps up)."""
    while chunk := await reader.read(65536):
        received[index] += len(chunk)


async def with_streams(
    port: int, requests: list[bytes], work: Coroutine[object, object, T]
) -> tuple[T, list[int]]:
    """Run `work` while one open Server-Sent-Events connection per request reads everything
    the server sends; `work`'s result and the bytes each stream received meanwhile."""
    try:
        opened = await asyncio.gather(*(_stream_open(port, raw) for raw in requests))
    except BaseException:
        work.close()
        raise
    received = [0] * len(opened)
    drains = [
        asyncio.create_task(_stream_drain(reader, received, n))
        for n, (reader, _) in enumerate(opened)
    ]
    try:
        return await work, received
    finally:
        for drain in drains:
            drain.cancel()
        for _, writer in opened:
            writer.close()
        await asyncio.gather(*drains, return_exceptions=True)


def event_loop_runner() -> Callable[..., object]:
    """asyncio.run, on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run
    return uvloop.run
