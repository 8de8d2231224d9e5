"""Every pattern the API publishes has a sentence a 422 shows instead of the regex."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from src.config import load_settings
from src.main import create_app
from src.schemas.base import PATTERN_RULES, explained


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def test_every_published_pattern_has_a_sentence() -> None:
    app = create_app(load_settings(secret_key="rules-" + "k" * 40 + "0123456789abcdef"))
    published = set(_patterns(app.openapi()))
    assert len(published) >= 4  # code, not blank, no NUL, price, idempotency key
    assert published - PATTERN_RULES.keys() == set()


def test_sentences_are_sentences_not_regexes() -> None:
    for pattern, rule in PATTERN_RULES.items():
        assert pattern not in rule
        assert rule.startswith("must ")


def test_explained_returns_the_pattern_and_registers_its_rule() -> None:
    pattern = r"^probe-[0-9]+$"
    try:
        assert explained(pattern, "must be probe- and digits") == pattern
        assert PATTERN_RULES[pattern] == "must be probe- and digits"
    finally:
        PATTERN_RULES.pop(pattern, None)
