"""API client credentials: a public random `client_id`, and a secret stored only as a keyed
hash.

A secret is 256 random bits, so a keyed hash (HMAC-SHA256 under a key derived from
SECRET_KEY) is enough: nothing to brute-force, no slow hash needed, and a stolen table is
useless without the key. Hashes made under a key in SECRET_KEY_PREVIOUS still verify, so a
key rotation never locks clients out. Comparisons run in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

# A fixed prefix lets secret scanners (and people) recognise a leaked Stockroom secret.
SECRET_PREFIX = "srs_"  # noqa: S105 - a prefix, not a secret
CLIENT_ID_PREFIX = "sc_"
# Longer than any id or secret this service issues: anything longer is refused unread.
MAX_CREDENTIAL_LENGTH = 256


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(16)


def new_client_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class ClientSecrets:
    """Hashes and checks client secrets under the current key and the previous ones."""

    def __init__(self, secret_key: str, previous_keys: Sequence[str] = ()) -> None:
        self._macs = [_keyed(key) for key in (secret_key, *previous_keys)]

    def hash(self, secret: str) -> str:
        """The stored form of a new secret, under the current key."""
        return self._digest(secret, self._macs[0])

    def matches(self, secret: str, stored: str | None) -> bool:
        """Whether `secret` is the one `stored` was made from, under any known key."""
        if stored is None:
            return False
        found = False
        for mac in self._macs:
            # Every key is tried, whatever matched: the time taken says nothing.
            found |= hmac.compare_digest(self._digest(secret, mac), stored)
        return found

    @staticmethod
    def _digest(secret: str, mac: hmac.HMAC) -> str:
        keyed = mac.copy()
        keyed.update(secret.encode("utf-8", "surrogatepass"))
        return keyed.hexdigest()


def _keyed(secret_key: str) -> hmac.HMAC:
    key = hashlib.sha256(b"stockroom-client-secret:" + secret_key.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)
