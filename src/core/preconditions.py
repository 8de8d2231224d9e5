"""If-Match and If-None-Match, parsed: which versions of a resource the client says it last
saw."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ASCII digits only, and few enough for a BIGINT: str.isdigit() would let "v²" through, and a
# very long number would hit Python's int() digit limit; either was a 500.
_TAG = re.compile(r'"v([0-9]{1,18})"')


@dataclass(frozen=True)
class IfMatch:
    versions: frozenset[int]
    any: bool = False

    def matches(self, version: int) -> bool:
        return self.any or version in self.versions


def etag(version: int) -> str:
    """Strong ETag of a versioned resource."""
    return f'"v{version}"'


def parse_if_match(header: str | None) -> IfMatch | None:
    """None when the header is absent; unknown tags simply match nothing (→ 412)."""
    if header is None:
        return None
    if header.strip() == "*":
        return IfMatch(frozenset(), any=True)
    versions = set()
    for tag in header.split(","):
        match = _TAG.fullmatch(tag.strip())
        if match:
            versions.add(int(match[1]))
    return IfMatch(frozenset(versions))


def none_match(header: str | None, version: int) -> bool:
    """True when If-None-Match names this version (weak comparison, RFC 9110 §8.8.3.2: a
    `W/` prefix is ignored) or is `*`: the client's copy is current, answer 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    for tag in header.split(","):
        match = _TAG.fullmatch(tag.strip().removeprefix("W/"))
        if match and int(match[1]) == version:
            return True
    return False
