"""Encryption at rest for secrets the service must use again (webhook signing secrets).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under keys derived from SECRET_KEY
with HKDF: a database dump alone cannot sign deliveries. Keys derived from
SECRET_KEY_PREVIOUS still decrypt, so the server key can be rotated; `rotate` re-encrypts a
value under the current key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Separates this key from every other use of SECRET_KEY (tokens, cursors).
_INFO = b"stockroom/secretbox/v1"


class SecretUnreadable(Exception):
    """The value was encrypted under a key that is neither SECRET_KEY nor a previous one."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


class SecretBox:
    def __init__(self, secret_key: str, previous_keys: Sequence[str] = ()) -> None:
        self._box = MultiFernet([_fernet(secret_key), *(_fernet(k) for k in previous_keys)])

    def seal(self, plaintext: str) -> bytes:
        return self._box.encrypt(plaintext.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._box.decrypt(sealed).decode()
        except InvalidToken:
            raise SecretUnreadable("sealed under an unknown key") from None

    def rotate(self, sealed: bytes) -> bytes:
        """The same secret sealed under the current key."""
        try:
            return self._box.rotate(sealed)
        except InvalidToken:
            raise SecretUnreadable("sealed under an unknown key") from None
