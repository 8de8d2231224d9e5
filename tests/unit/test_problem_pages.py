"""Every problem type the code can emit has a page (and the docs list it); no page describes a
type nothing emits. The set is derived from the code, not written down here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from src.api.problem_pages import NOT_PROBLEMS, PAGES, emitted_kinds
from src.api.problem_types import prefers_json, render
from src.core.db_errors import EXPECTED_CONFLICTS
from src.core.exceptions import PROBLEM_FOR_STATUS, Conflict, Duplicate

ROOT = Path(__file__).resolve().parents[2]
SLUG_LITERAL = re.compile(r"""slug\s*=\s*["']([a-z0-9-]+)["']|/problems/([a-z0-9-]+)""")


def _slugs_written_in_source() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        for match in SLUG_LITERAL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    return found - {kind.slug for kind in NOT_PROBLEMS}


def emitted_slugs() -> set[str]:
    return (
        {kind.slug for kind in emitted_kinds()}
        | {kind.slug for kind in PROBLEM_FOR_STATUS.values()}
        | _slugs_written_in_source()
    )


def test_every_emitted_problem_type_has_a_page() -> None:
    slugs = emitted_slugs()
    assert {"duplicate", "conflict", "not-found", "validation-error"} <= slugs
    assert slugs - PAGES.keys() == set()


def test_no_page_describes_a_type_nothing_emits() -> None:
    assert PAGES.keys() - emitted_slugs() == set()


def test_pages_take_title_and_status_from_the_exceptions() -> None:
    for kind in emitted_kinds():
        page = PAGES[kind.slug]
        assert (page.title, page.status) == (kind.title, kind.status)
        assert page.meaning.endswith(".")
        assert page.action.endswith(".")


def test_a_duplicate_is_still_a_conflict() -> None:
    error = Duplicate("A product with SKU 'A' already exists", field="sku")
    assert isinstance(error, Conflict)
    assert error.status == 409
    assert error.extra["field"] == "sku"


@pytest.mark.parametrize(
    ("constraint", "kind", "field"),
    [
        ("uq_products_sku_lower", Duplicate, "sku"),
        ("uq_locations_code_lower", Duplicate, "code"),
        ("uq_users_email_lower", Conflict, "email"),
        ("uq_users_email_skeleton", Conflict, "email"),  # a look-alike, won in a race
    ],
)
def test_a_unique_violation_the_services_missed_still_names_its_field(
    constraint: str, kind: type[Conflict], field: str
) -> None:
    error = EXPECTED_CONFLICTS[constraint]()
    assert type(error) is kind
    assert error.extra["field"] == field
    assert error.extra["errors"] == [
        {"loc": ["body", field], "msg": error.detail, "type": "duplicate"}
    ]


@pytest.mark.parametrize(
    "doc",
    [ROOT / "docs" / "API.md", ROOT / "README.md"],
    ids=["API.md", "README.md"],
)
def test_the_docs_list_every_problem_type(doc: Path) -> None:
    lines = doc.read_text(encoding="utf-8").splitlines()
    for slug, page in PAGES.items():
        listed = [line for line in lines if f"`/problems/{slug}`" in line]
        assert listed, f"{doc.name} has no line for /problems/{slug}"
        assert any(str(page.status) in line for line in listed), slug


def test_the_page_escapes_its_texts() -> None:
    page = PAGES["conflict"]
    tricky = type(page)(page.slug, "<T>", 409, 'a <b> & "c" `d<e>`', "x")
    html = render(tricky)
    assert "<b>" not in html
    assert "&lt;b&gt; &amp; &quot;c&quot; <code>d&lt;e&gt;</code>" in html
    assert "<h1>&lt;T&gt;</h1>" in html


@pytest.mark.parametrize(
    ("accept", "json"),
    [
        (None, False),
        ("", False),
        ("application/json", True),
        ("text/html, application/json", False),
        ("application/json, text/html;q=0.5", True),
        ("text/*;q=0.2, application/json;q=0.1", False),
        ("*/*;q=0.5, application/json", True),
        ("application/json;q=abc", False),
        ("text/plain", False),
    ],
)
def test_accept_negotiation(accept: str | None, json: bool) -> None:
    assert prefers_json(accept) is json
