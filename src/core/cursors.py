"""Opaque, tamper-evident keyset cursors.

A cursor is the sort key of the last row of a page, JSON-encoded, base64url'd and signed with
an HMAC derived from SECRET_KEY. Clients cannot forge one (or read meaning into it); a cursor
the server did not produce is a 400 `malformed-request`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

from src.core.exceptions import MalformedRequest

_TAG_BYTES = 16
_MAX_LENGTH = 2048


class CursorCodec:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"stockroom-cursor:" + secret_key.encode()).digest()

    def encode(self, scope: str, values: list[Any]) -> str:
        payload = json.dumps({"s": scope, "v": [_plain(v) for v in values]}, separators=(",", ":"))
        body = payload.encode()
        tag = hmac.new(self._key, body, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(tag + body).rstrip(b"=").decode()

    def decode(self, scope: str, cursor: str) -> list[Any]:
        """The raw values of a cursor made for `scope` (a list and its sort order)."""
        try:
            if len(cursor) > _MAX_LENGTH:
                raise ValueError("too long to be ours")
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            tag, body = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
            expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_TAG_BYTES]
            if not hmac.compare_digest(tag, expected):
                raise ValueError("bad signature")
            data = json.loads(body)
            if data["s"] != scope or not isinstance(data["v"], list):
                raise ValueError("cursor of another list")
            values: list[Any] = data["v"]
            return values
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise MalformedRequest("The cursor is not valid for this list") from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
