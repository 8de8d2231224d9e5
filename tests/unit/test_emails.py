"""Canonical email forms and UTS #39's mixed-script test."""

from __future__ import annotations

import pytest

from src.core.emails import canonical_email, lookup_email, mixes_scripts, valid_email

CYRILLIC_A, GREEK_OMICRON = "\u0430", "\u03bf"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  Admin@Example.COM ", "admin@example.com"),
        ("\uff41dmin@example.com", "admin@example.com"),  # full-width a
        ("STRASSE@example.com", "strasse@example.com"),
        ("stra\u00dfe@example.com", "strasse@example.com"),  # case folding, not lower()
        ("\u2460@example.com", "1@example.com"),  # circled digit one
    ],
)
def test_canonical_forms(given: str, expected: str) -> None:
    assert canonical_email(given) == expected
    assert valid_email(given) == expected
    assert lookup_email(given) == expected


def test_lookup_maps_the_domain_like_validation_and_never_refuses() -> None:
    assert lookup_email("a@example\u3002com") == valid_email("a@example\u3002com")
    assert lookup_email("not an address") == "not an address"
    assert lookup_email(f"p{CYRILLIC_A}ypal@example.com") == f"p{CYRILLIC_A}ypal@example.com"


@pytest.mark.parametrize(
    "text",
    [
        f"ex{CYRILLIC_A}mple",
        f"c{GREEK_OMICRON}m",
        "tanaka\u65e5\u672c",  # Latin with Han
        "\u0438\u0432\u0430\u043dx",  # Cyrillic with a Latin x
    ],
)
def test_mixed_scripts(text: str) -> None:
    assert mixes_scripts(text)


@pytest.mark.parametrize(
    "text",
    [
        "example",
        "ana.mar\u00eda_42+tag",
        "\u0438\u0432\u0430\u043d-7",
        "\u3084\u307e\u3060\u592a\u90ce",  # Hiragana and Han: Japanese
        "\ud55c\uad6d\u4eba",  # Hangul and Han: Korean
        "e\u0301cole",  # a combining mark takes its base's script
        "123-456",
        "",
    ],
)
def test_single_scripts(text: str) -> None:
    assert not mixes_scripts(text)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (f"admin@ex{CYRILLIC_A}mple.com", "scripts"),
        (f"p{CYRILLIC_A}ypal@example.com", "scripts"),
        ("a\uff20b@example.com", "not a valid email"),  # a full-width @ becomes a second @
        ("no-at-sign", "not a valid email"),
    ],
)
def test_invalid_addresses(address: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        valid_email(address)


def test_a_cyrillic_domain_label_beside_a_latin_one_is_fine() -> None:
    domain = "\u043f\u0440\u0438\u043c\u0435\u0440.com"
    assert valid_email(f"ivan@{domain}") == f"ivan@{domain}"
