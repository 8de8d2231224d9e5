"""Opaque, tamper-evident keyset cursors.

A cursor is the sort key of the last row of a page, JSON-encoded, base64url'd and signed with
an HMAC derived from SECRET_KEY. Clients cannot forge one (or read meaning into it); a cursor
the server did not produce is a 400 `malformed-request`. Cursors signed under a key in
SECRET_KEY_PREVIOUS still decode, so a key rotation keeps clients' stored feed positions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from src.core.exceptions import MalformedRequest

_TAG_BYTES = 16
_MAX_LENGTH = 2048


class CursorCodec:
    def __init__(self, secret_key: str, previous_keys: Sequence[str] = ()) -> None:
        # Keyed once; each signature copies it (a feed page signs a hundred event ids).
        self._macs = [_keyed(k) for k in (secret_key, *previous_keys)]

    def _tag(self, body: bytes, mac: hmac.HMAC | None = None) -> bytes:
        mac = (mac or self._macs[0]).copy()
        mac.update(body)
        return mac.digest()[:_TAG_BYTES]

    def _genuine(self, tag: bytes, body: bytes) -> bool:
        # The current key first: previous ones are only tried on a mismatch.
        return any(hmac.compare_digest(tag, self._tag(body, mac)) for mac in self._macs)

    def encode(self, scope: str, values: list[Any]) -> str:
        # Compact JSON; datetimes in ISO 8601 and UUIDs as strings, as the values came.
        body = orjson.dumps({"s": scope, "v": values}, default=_uuid)
        return base64.urlsafe_b64encode(self._tag(body) + body).rstrip(b"=").decode()

    def decode(self, scope: str, cursor: str) -> list[Any]:
        """The raw values of a cursor made for `scope` (a list and its sort order)."""
        try:
            if len(cursor) > _MAX_LENGTH:
                raise ValueError("too long to be ours")
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            tag, body = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
            if not self._genuine(tag, body):
                raise ValueError("bad signature")
            data = orjson.loads(body)
            if data["s"] != scope or not isinstance(data["v"], list):
                raise ValueError("cursor of another list")
            values: list[Any] = data["v"]
            return values
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise MalformedRequest("The cursor is not valid for this list") from None


def _keyed(secret_key: str) -> hmac.HMAC:
    key = hashlib.sha256(b"stockroom-cursor:" + secret_key.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _uuid(value: Any) -> str:
    """A UUID subclass (asyncpg returns its own), which orjson only knows as uuid.UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} in a cursor")
