"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that verifies every
delivery with the `standardwebhooks` package (the spec's reference library, not our code)
and answers as the test scripts it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.servers import free_port

# What the receiver answers one delivery: (status, headers, body), maybe after a wait.
Answer = tuple[int, dict[str, str], bytes]
Script = Callable[["Delivery"], Awaitable[Answer]]


@dataclass
class Delivery:
    """One request the receiver got."""

    id: str
    timestamp: str
    signature: str
    body: bytes
    verified_with: list[str]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


async def ok(_: Delivery) -> Answer:
    return 204, {}, b""


@dataclass
class Receiver:
    """Verifies with every secret in `secrets` (each verifying one is recorded); a delivery
    no secret verifies is recorded in `unverified`. `overlaps` counts requests that arrived
    while another for the same webhook-id was still being answered."""

    secrets: list[str] = field(default_factory=list)
    script: Script = ok
    received: list[Delivery] = field(default_factory=list)
    unverified: list[Delivery] = field(default_factory=list)
    overlaps: int = 0
    url: str = ""
    _in_flight: set[str] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def delivered_ids(self) -> set[str]:
        return {d.id for d in self.received}

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 30) -> None:
        async with asyncio.timeout(seconds):
            while not condition():
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.2)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        delivery = Delivery(
            headers.get("webhook-id", ""),
            headers.get("webhook-timestamp", ""),
            headers.get("webhook-signature", ""),
            body,
            [],
        )
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            delivery.verified_with.append(secret)
        if delivery.id in self._in_flight:
            self.overlaps += 1
        self._in_flight.add(delivery.id)
        try:
            status, extra, content = await self.script(delivery)
        finally:
            self._in_flight.discard(delivery.id)
        (self.received if delivery.verified_with else self.unverified).append(delivery)
        self._arrived.set()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in extra.items()],
            }
        )
        await send({"type": "http.response.body", "body": content})


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver, port: int | None = None) -> AsyncIterator[Receiver]:
    """Serve `receiver` on 127.0.0.1 (a free port, or `port` to come back where it was)."""
    port = port or free_port()
    config = uvicorn.Config(receiver, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        receiver.url = f"http://127.0.0.1:{port}/hooks"
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


def movement_ids(receiver: Receiver) -> list[str]:
    """The ids of the movements `receiver` was told of, in the order it was."""
    return [
        d.event["data"]["id"] for d in receiver.received if d.event["type"] == "movement.created"
    ]
