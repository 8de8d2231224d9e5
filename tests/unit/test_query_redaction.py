"""The access log writes queries with credentials (stream tickets) redacted."""

from __future__ import annotations

import pytest

from src.core.logging import redact_query


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        (b"limit=5&cursor=abc", "limit=5&cursor=abc"),
        (b"ticket=eyJ.secret.sig", "ticket=[redacted]"),
        (b"a=1&ticket=s1&ticket=s2", "a=1&ticket=[redacted]&ticket=[redacted]"),
        (b"tick%65t=s&TICKET=t", "tick%65t=[redacted]&TICKET=[redacted]"),
        (b"ticket", "ticket=[redacted]"),
        (b"tickets=keep", "tickets=keep"),
    ],
)
def test_ticket_values_are_redacted(query: bytes, logged: str) -> None:
    assert redact_query(query) == logged


def test_a_huge_query_is_cut() -> None:
    logged = redact_query(b"x=" + b"a" * 5000)
    assert len(logged) < 1100
    assert logged.endswith("...")
