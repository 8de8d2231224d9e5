"""One webhook attempt against a real socket on 127.0.0.1: what counts as delivered, what
a failure records, and that a receiver cannot hold the worker (timeout, read cap,
redirects not followed). Plus the pieces an attempt is built from: the retry schedule,
the signature and the sealed secret."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook

from src.core.secretbox import SecretBox, SecretUnreadable
from src.core.webhook.http import Outcome, WebhookSender
from src.core.webhook.signing import new_secret, sign
from src.services.webhook.dispatch import JITTER, MAX_RETRY_AFTER, DeliveryPolicy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that answers with whatever bytes `handler` writes."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await handler(reader, writer)
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/hook"


def answer(head: str, body: bytes = b"") -> Handler:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"{head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    return handler


def sender(**overrides: float) -> WebhookSender:
    values = {"timeout": 2.0, "max_response_bytes": 1024, **overrides}
    return WebhookSender(
        allow_private_targets=True,
        timeout=values["timeout"],
        max_response_bytes=int(values["max_response_bytes"]),
    )


async def post(url: str, client: WebhookSender | None = None) -> Outcome:
    client = client or sender()
    try:
        return await client.post(url, {"content-type": "application/json"}, b"{}")
    finally:
        await client.aclose()


async def test_2xx_is_delivered() -> None:
    async with raw_server(answer("HTTP/1.1 202 Accepted")) as url:
        outcome = await post(url)
    assert outcome.delivered
    assert outcome.status_code == 202
    assert outcome.error is None


async def test_a_refusal_records_its_status_and_the_start_of_its_body() -> None:
    body = b"database\x00 down\n" + b"x" * 500
    async with raw_server(answer("HTTP/1.1 500 Internal Server Error", body)) as url:
        outcome = await post(url)
    assert not outcome.delivered
    assert outcome.status_code == 500
    error = outcome.error or ""
    assert error.startswith("HTTP 500: database  down")
    assert "\x00" not in error
    assert len(error) <= len("HTTP 500: ") + 200


async def test_a_redirect_is_a_failure_and_is_not_followed() -> None:
    followed = []

    async def elsewhere(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        followed.append(True)
        await answer("HTTP/1.1 200 OK")(_, writer)

    async with raw_server(elsewhere) as target:
        redirect = answer(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}")
        async with raw_server(redirect) as url:
            outcome = await post(url)
    assert outcome.status_code == 307
    assert not outcome.delivered
    assert followed == []


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        ("429 Too Many Requests", "Retry-After: 120", 120.0),
        ("503 Service Unavailable", "Retry-After: 7", 7.0),
        ("500 Internal Server Error", "Retry-After: 7", None),  # only 429 and 503 ask
        ("429 Too Many Requests", "Retry-After: soon", None),
    ],
)
async def test_retry_after_is_read_from_429_and_503(
    status: str, header: str, expected: float | None
) -> None:
    async with raw_server(answer(f"HTTP/1.1 {status}\r\n{header}")) as url:
        outcome = await post(url)
    assert outcome.retry_after == expected


async def test_a_retry_after_of_non_ascii_digits_is_ignored() -> None:
    async def superscript(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # 0xB2 is "²" in Latin-1, which str.isdigit() accepts and float() refuses.
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: \xb2\r\n")
        writer.write(b"Content-Length: 0\r\n\r\n")
        await writer.drain()

    async with raw_server(superscript) as url:
        outcome = await post(url)
    assert outcome.status_code == 503
    assert outcome.retry_after is None


async def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    async with raw_server(
        answer(f"HTTP/1.1 503 Service Unavailable\r\nRetry-After: {when}")
    ) as url:
        outcome = await post(url)
    assert outcome.retry_after is not None
    assert 80 <= outcome.retry_after <= 91


async def test_an_endless_body_is_read_only_up_to_the_cap() -> None:
    async def endless(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"y" * 65536
        while True:  # until the client hangs up
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()

    started = time.monotonic()
    async with raw_server(endless) as url:
        outcome = await post(url, sender(timeout=10, max_response_bytes=4096))
    assert outcome.status_code == 500
    assert time.monotonic() - started < 5  # it stopped reading; the timeout did not cut it


async def test_a_receiver_that_never_answers_is_cut_at_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    started = time.monotonic()
    async with raw_server(silent) as url:
        outcome = await post(url, sender(timeout=0.3))
    assert time.monotonic() - started < 2
    assert outcome.status_code is None
    assert outcome.error == "no answer within 0.3 s"


async def test_a_refused_connection_is_a_failure() -> None:
    async with raw_server(answer("HTTP/1.1 200 OK")) as url:
        pass  # closed: nothing listens on the port any more
    outcome = await post(url)
    assert outcome.status_code is None
    assert outcome.error == "connection failed"


async def test_a_private_target_is_refused_at_connect_time() -> None:
    async with raw_server(answer("HTTP/1.1 200 OK")) as url:
        guarded = WebhookSender(allow_private_targets=False, timeout=2, max_response_bytes=0)
        outcome = await post(url, guarded)
    assert outcome.status_code is None
    assert outcome.error == (
        "the webhook host does not resolve to public addresses only; "
        "private targets need WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)"
    )


async def test_plain_http_is_refused_where_https_is_required() -> None:
    async with raw_server(answer("HTTP/1.1 200 OK")) as url:
        strict = WebhookSender(
            allow_private_targets=True, timeout=2, max_response_bytes=0, require_https=True
        )
        outcome = await post(url, strict)
    assert outcome.status_code is None
    assert outcome.error == "https is required outside development"


def test_the_retry_schedule_with_jitter_then_none() -> None:
    policy = DeliveryPolicy(
        schedule=(5.0, 300.0),
        timeout=15,
        disable_after=timedelta(days=5),
        concurrency=1,
        poll_seconds=1,
    )
    delays = [policy.retry_in(0, None) for _ in range(200)]
    assert all(5 * (1 - JITTER) <= d <= 5 * (1 + JITTER) for d in delays)
    assert len(set(delays)) > 1  # jittered, not fixed
    assert 300 * (1 - JITTER) <= policy.retry_in(1, None) <= 300 * (1 + JITTER)
    assert policy.retry_in(2, None) is None
    assert policy.retry_in(0, 100.0) == 100.0  # Retry-After beyond the schedule wins
    assert policy.retry_in(0, 10**9) == MAX_RETRY_AFTER
    assert policy.lease == timedelta(seconds=35)


def test_signatures_verify_with_the_reference_library() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"id":"e1","type":"movement.created"}'
    now = int(time.time())
    headers = {
        "webhook-id": "e1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign([new, old], "e1", now, body),
    }
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) is not None
    reference = Webhook(new).sign("e1", datetime.fromtimestamp(now, UTC), body.decode())
    assert sign([new], "e1", now, body) == reference


def test_a_sealed_secret_opens_with_the_current_or_a_previous_key_only() -> None:
    secret = new_secret()
    old_box = SecretBox("old-key-" + "x" * 40)
    sealed = old_box.seal(secret)
    assert secret.encode() not in sealed
    rotated_box = SecretBox("new-key-" + "y" * 40, ["old-key-" + "x" * 40])
    assert rotated_box.open(sealed) == secret
    resealed = rotated_box.rotate(sealed)
    assert SecretBox("new-key-" + "y" * 40).open(resealed) == secret
    with pytest.raises(SecretUnreadable):
        SecretBox("new-key-" + "y" * 40).open(sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox("other-" + "z" * 40).rotate(sealed)
