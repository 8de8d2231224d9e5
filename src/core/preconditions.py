"""If-Match, parsed: which versions of a resource the client says it last saw."""

from __future__ import annotations

from dataclasses import dataclass


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
        tag = tag.strip()
        if tag.startswith('"v') and tag.endswith('"') and tag[2:-1].isdigit():
            versions.add(int(tag[2:-1]))
    return IfMatch(frozenset(versions))
