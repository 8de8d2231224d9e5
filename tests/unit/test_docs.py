"""The documentation stands on its own: docs/API.md and the OpenAPI document the app publishes
describe the same endpoints, and no tracked file points outside the repository.

Convention in docs/*.md: each endpoint has a heading whose text is its method and full path in
backticks, e.g. ### `GET /api/v1/products/{product_id}`. Any other backticked mention of a
method and path (in prose) must name an endpoint that exists as well.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from src.config import load_settings
from src.main import create_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_METHOD = "|".join(METHODS)
HEADING = re.compile(rf"^#{{2,6}}\s+`({_METHOD}) (/[^`\s?]*)`\s*$")
MENTION = re.compile(rf"`({_METHOD}) (/[^`\s?]*)(?:\?[^`]*)?`")
PARAMETER = re.compile(r"\{[^}/]+\}")

Endpoint = tuple[str, str]


def normalise(method: str, path: str) -> Endpoint:
    """Path parameter names do not matter: /products/{id} is /products/{product_id}."""
    return method.upper(), PARAMETER.sub("{}", path)


def documented(text: str) -> tuple[list[Endpoint], set[Endpoint]]:
    headings = [normalise(*m.groups()) for line in text.splitlines() if (m := HEADING.match(line))]
    mentions = {normalise(*m.groups()) for m in MENTION.finditer(text)}
    return headings, mentions


def published() -> set[Endpoint]:
    app = create_app(load_settings(secret_key="docs-" + "k" * 40 + "0123456789abcdef"))
    return {
        normalise(method, path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def test_every_published_endpoint_is_documented() -> None:
    headings, _ = documented(docs_text())
    missing = published() - set(headings)
    assert not missing, f"endpoints with no `### \\`METHOD /path\\`` heading in docs/: {missing}"


def test_every_documented_endpoint_exists() -> None:
    headings, mentions = documented(docs_text())
    unknown = (set(headings) | mentions) - published()
    assert not unknown, f"docs/ describe endpoints the app does not have: {sorted(unknown)}"


def test_each_endpoint_is_documented_once() -> None:
    headings, _ = documented(docs_text())
    repeated = {endpoint for endpoint in headings if headings.count(endpoint) > 1}
    assert not repeated


@pytest.mark.parametrize(
    ("text", "headings", "mentions"),
    [
        ("### `GET /api/v1/products/{id}`", [("GET", "/api/v1/products/{}")], 1),
        ("## `DELETE /api/v1/x`  ", [("DELETE", "/api/v1/x")], 1),
        ("see `POST /api/v1/users` and `GET /api/v1/products?q=a`", [], 2),
        ("### GET /api/v1/products", [], 0),  # not in backticks: not an endpoint heading
        ("`FETCH /api/v1/products` or `/api/v1/openapi.json`", [], 0),
    ],
)
def test_the_convention_is_parsed(text: str, headings: list[Endpoint], mentions: int) -> None:
    found_headings, found_mentions = documented(text)
    assert found_headings == headings
    assert len(found_mentions) == mentions


def test_the_api_docs_are_linked_from_the_readme() -> None:
    assert "(docs/API.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


# Spelled in pieces so that this file does not match itself.
OUTSIDE = [
    re.compile(re.escape("../" + "shared")),
    re.compile(r"shared\s+" + r"design\s+folder", re.IGNORECASE),  # even across a line break
    re.compile(re.escape("/" + "work/")),
]


def tracked_files() -> list[Path]:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, like any developer runs it
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("git ls-files failed: run the tests from a git checkout")
    return [ROOT / name for name in listing.decode().split("\0") if name]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix == ".lock" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for pattern in OUTSIDE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group()!r}")
    assert not offenders, "files refer to places outside the repository:\n" + "\n".join(offenders)
