"""Standard Webhooks signatures (standardwebhooks.com): what a receiver verifies.

A secret is `whsec_` + base64 of 32 random bytes; the signature of one attempt is
`v1,` + base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")). During a secret
rotation a delivery carries one signature per live secret, space-separated, so receivers
holding either verify it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<signature>` per secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )
