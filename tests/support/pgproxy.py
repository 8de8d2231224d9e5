"""A TCP proxy in front of PostgreSQL that counts round trips.

A round trip is one ReadyForQuery ('Z') message from the server: the answer to each Sync
(extended protocol: prepare, or bind + execute) and to each simple Query. The client's
messages are read too, so each round trip is listed with the SQL it ran, which is what a
failing count should show. Connect with SSL disabled (`?ssl=disable`) so the stream is plain.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url


@dataclass
class _Connection:
    """What one client connection has sent since its last round trip."""

    statements: dict[bytes, str] = field(default_factory=dict)  # prepared name -> SQL
    pending: list[str] = field(default_factory=list)


class RoundTripProxy:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        socket_dir = url.query.get("host")
        port = url.port or int(str(url.query.get("port", 5432)))
        # A server on a Unix socket (the embedded one) or on TCP.
        self.socket = f"{socket_dir}/.s.PGSQL.{port}" if isinstance(socket_dir, str) else None
        self.upstream = (url.host or "127.0.0.1", port)
        self.trips: list[str] = []  # one entry per round trip: the SQL it ran
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url_through(self, url: str) -> str:
        """`url` pointing at this proxy, SSL off."""
        proxied = make_url(url).set(host="127.0.0.1", port=self.port)
        query = {k: v for k, v in proxied.query.items() if k not in ("host", "port")}
        proxied = proxied.set(query={**query, "ssl": "disable"})
        return proxied.render_as_string(hide_password=False)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    @asynccontextmanager
    async def counting(self) -> AsyncIterator[list[str]]:
        """The round trips made inside the block (a list filled as they happen)."""
        start = len(self.trips)
        made: list[str] = []
        try:
            yield made
        finally:
            made.extend(self.trips[start:])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.socket is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        state = _Connection()
        for coro in (
            self._client_to_server(reader, up_writer, state),
            self._server_to_client(up_reader, writer, state),
        ):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: _Connection
    ) -> None:
        async def startup() -> None:
            # The startup message has no type byte: a length, then the rest.
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            writer.write(struct.pack("!I", length) + await reader.readexactly(length - 4))

        def seen(kind: bytes, body: bytes) -> None:
            self._note(state, kind, body)

        await _relay(reader, writer, seen, before=startup)

    async def _server_to_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: _Connection
    ) -> None:
        def seen(kind: bytes, _body: bytes) -> None:
            if kind == b"Z":  # ReadyForQuery: one round trip ends
                self.trips.append(" | ".join(state.pending) or "(startup)")
                state.pending.clear()

        await _relay(reader, writer, seen)

    @staticmethod
    def _note(state: _Connection, kind: bytes, body: bytes) -> None:
        if kind == b"Q":  # simple query: the SQL
            state.pending.append(body.rstrip(b"\0").decode())
        elif kind == b"P":  # parse: statement name, SQL
            name, sql = body.split(b"\0")[:2]
            state.statements[name] = sql.decode()
            state.pending.append(f"prepare {sql.decode()}")
        elif kind == b"B":  # bind: portal name, statement name
            name = body.split(b"\0")[1]
            state.pending.append(state.statements.get(name, "?"))


async def _relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    seen: Callable[[bytes, bytes], None],
    *,
    before: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Forward typed protocol messages (a type byte, a length, the body) one way, showing
    each to `seen` first, until either side closes."""
    try:
        if before is not None:
            await before()
        while True:
            kind = await reader.readexactly(1)
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            seen(kind, body)
            writer.write(kind + struct.pack("!I", length) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def round_trip_proxy(database_url: str) -> AsyncIterator[RoundTripProxy]:
    proxy = RoundTripProxy(database_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
