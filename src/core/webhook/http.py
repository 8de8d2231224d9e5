"""One webhook attempt over HTTP: what a receiver answered, or why nothing usable came back.

A receiver cannot hold a worker: the whole attempt (resolving, connecting, sending, reading)
is cut at the timeout, and at most `max_response_bytes` of its answer are read. Redirects
are not followed (a 3xx is a failure, as the Standard Webhooks spec says), and the host is
checked and pinned at connect time (`src.core.webhook.targets`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from src.core.webhook.targets import UnsafeTarget, build_client

# Enough of a refusal's body to say why in the delivery log.
_ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    # Why the attempt failed (None on 2xx): an HTTP status with the start of its body, or
    # what went wrong before one arrived.
    error: str | None
    # Seconds a 429 or 503 asked for (Retry-After), if it did.
    retry_after: float | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    def __init__(
        self,
        *,
        allow_private_targets: bool,
        timeout: float,
        max_response_bytes: int,
        require_https: bool = False,
        max_connections: int = 20,
    ) -> None:
        self.timeout = timeout
        # Checked at every attempt too: a URL saved in development may meet production.
        self.require_https = require_https
        self.max_response_bytes = max_response_bytes
        self._client = build_client(
            allow_private=allow_private_targets, timeout=timeout, max_connections=max_connections
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Outcome:
        """POST `body`; never raises for anything the receiver or the network does."""
        started = time.perf_counter()
        if self.require_https and not url.lower().startswith("https://"):
            return self._failed("https is required outside development", started)
        try:
            async with asyncio.timeout(self.timeout):
                status, retry_after, text = await self._exchange(url, headers, body)
        except TimeoutError:
            return self._failed(f"no answer within {self.timeout:g} s", started)
        except httpx.TimeoutException:
            return self._failed(f"no answer within {self.timeout:g} s", started)
        except httpx.HTTPError as exc:
            return self._failed(_network_error(exc), started)
        except UnsafeTarget as exc:  # raised as is through httpx (not an httpx.HTTPError)
            return self._failed(str(exc), started)
        seconds = time.perf_counter() - started
        if 200 <= status < 300:
            return Outcome(status, None, None, seconds)
        error = f"HTTP {status}" + (f": {text}" if text else "")
        return Outcome(status, error, retry_after, seconds)

    async def _exchange(
        self, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, float | None, str]:
        async with self._client.stream("POST", url, content=body, headers=headers) as response:
            received = bytearray()
            if self.max_response_bytes:
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= self.max_response_bytes:
                        break  # the rest is never read; the connection is closed, not reused
            retry_after = (
                _retry_after(response.headers.get("retry-after"))
                if response.status_code in (429, 503)
                else None
            )
            text = bytes(received[:_ERROR_BODY_CHARS]).decode("utf-8", "replace")
            # PostgreSQL text cannot hold NUL; a log line needs no control characters.
            text = "".join(c if c.isprintable() else " " for c in text).strip()
            return response.status_code, retry_after, text

    def _failed(self, reason: str, started: float) -> Outcome:
        return Outcome(None, reason, None, time.perf_counter() - started)


def _network_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver broke the HTTP protocol or closed the connection"
    return f"request failed ({type(exc).__name__})"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
