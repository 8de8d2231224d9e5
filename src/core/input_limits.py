"""Bounds on a request's shape, checked before validation so that its cost stays bounded.

Validation lists every broken rule, so a body of many unknown members costs event-loop time
and answer size in proportion (bench/README.md, "Request shape limits"). So a JSON object
with more than `MAX_MEMBERS`
members (at any depth), a body with more than `MAX_TOTAL_MEMBERS` object members in all (or
1,000 objects of 88 unknown members each would still cost 88,000 errors), and a query with
more than `MAX_QUERY_PARAMETERS` distinct parameter names are refused unread by validation,
and a problem lists at most `MAX_LISTED_ERRORS`.

JSON bodies are also read as I-JSON (RFC 7493 §2.3): an object that names a member twice is
refused, rather than silently keeping the last value as Python's json module does.
"""

from __future__ import annotations

import json
from typing import Any

from src.core.exceptions import DuplicateMember, MalformedRequest, TooManyFields

# No request body of the API has an object of more than a few dozen members; a batch is a list.
MAX_MEMBERS = 1000
# Object members in the whole body. The largest valid bodies hold far fewer: a count of 1,000
# lines has 2 * 1,000 + 4 = 2,004, a batch of 100 movements 8 * 100 + 2 = 802, a shipment
# receipt of 100 lines 3 * 100 + 1 = 301 (tests/unit/test_input_limits.py works them out).
MAX_TOTAL_MEMBERS = 10_000
# Distinct names: a list filter repeats one name per id (up to 100 ids each), which counts once.
MAX_QUERY_PARAMETERS = 100
# Errors a validation problem lists; `errors_truncated` counts the rest.
MAX_LISTED_ERRORS = 50

NOT_JSON = "The request body is not valid JSON"


class _Objects:
    """The parse hook of one document: it counts the members of every object read so far, so
    the body's total is bounded as well as each object's."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        self.members = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len(pairs) > MAX_MEMBERS:
            raise TooManyFields(f"A JSON object in the body has more than {MAX_MEMBERS} members")
        self.members += len(pairs)
        if self.members > MAX_TOTAL_MEMBERS:
            raise TooManyFields(
                f"The JSON objects in the body have more than {MAX_TOTAL_MEMBERS} members in all"
            )
        members = dict(pairs)
        if len(members) != len(pairs):
            # The name is not echoed: problems never repeat input.
            raise DuplicateMember("A JSON object in the body names the same member more than once")
        return members


def loads(body: bytes) -> Any:
    """The body as JSON, or a problem: not JSON (or nested too deep to read), an object with a
    duplicate member name, one with too many members, or too many members in all."""
    try:
        return json.loads(body, object_pairs_hook=_Objects())
    except (ValueError, RecursionError):  # JSONDecodeError, invalid UTF-8, too deep
        raise MalformedRequest(NOT_JSON) from None


def may_exceed_query_limit(query_string: bytes) -> bool:
    """Cheap test first: fewer separators than the limit means no more parameters than it."""
    return query_string.count(b"&") >= MAX_QUERY_PARAMETERS


def check_query_names(distinct_names: int) -> None:
    if distinct_names > MAX_QUERY_PARAMETERS:
        raise TooManyFields(f"The query has more than {MAX_QUERY_PARAMETERS} distinct parameters")
