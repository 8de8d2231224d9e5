"""Canonical email forms and UTS #39's mixed-script test."""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path

import icu
import pytest
from icu import SpoofChecker

from src.core.emails import (
    canonical_email,
    email_skeleton,
    lookup_email,
    mixes_scripts,
    valid_email,
)

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


def test_what_icu_gives_for_a_zero_and_an_o() -> None:
    """TR39's own skeleton keeps case: a digit zero becomes a capital O, a small o stays, so
    `j0hn` and `john` do not meet there. Case-folded afterwards, they do."""
    checker = SpoofChecker()
    assert str(checker.getSkeleton(0, "j0hn@example.com")) == "jOhn@exarnple.corn"
    assert str(checker.getSkeleton(0, "john@example.com")) == "john@exarnple.corn"
    assert email_skeleton("j0hn@example.com") == email_skeleton("john@example.com")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("john@example.com", "j0hn@example.com"),
        ("john@example.com", "J0HN@Example.com"),  # case and a zero
        ("bob@example.com", "B0B@example.com"),
        ("admin@example.com", "adm\u0131n@example.com"),  # a dotless i
        ("admin@example.com", "ADM\u0131N@example.com"),
        ("paypal@example.com", "PAYPA1@example.com"),
        ("modern@example.com", "RNODERN@example.com"),
        ("admin@example.com", "\uff41dmin@example.com"),  # full-width a
    ],
)
def test_look_alikes_share_a_skeleton_whatever_their_case(first: str, second: str) -> None:
    assert email_skeleton(first) == email_skeleton(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ana@example.com", "anna@example.com"),
        ("john@example.com", "joan@example.com"),
        ("a1@example.com", "a2@example.com"),
    ],
)
def test_different_addresses_keep_different_skeletons(first: str, second: str) -> None:
    assert email_skeleton(first) != email_skeleton(second)


@pytest.mark.parametrize(
    "address", ["J0HN@example.com", "ana.mar\u00eda@example.es", "\u0438\u0432\u0430\u043d@x"]
)
def test_a_skeleton_is_in_canonical_form(address: str) -> None:
    skeleton = email_skeleton(address)
    assert skeleton == canonical_email(skeleton)
    assert skeleton == unicodedata.normalize("NFKC", skeleton)
    assert skeleton == skeleton.casefold()


def test_icu_is_the_major_version_the_stored_skeletons_were_computed_with() -> None:
    """Another ICU major brings other confusables data: moving to it needs a migration that
    recomputes users.email_skeleton, so the dependency stays pinned below it."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text("utf-8"))
    pins = [d for d in project["project"]["dependencies"] if d.startswith("icukit-pyicu")]
    assert pins == ["icukit-pyicu>=78.3,<79"]
    assert icu.ICU_VERSION.split(".")[0] == "78"
