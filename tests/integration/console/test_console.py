"""/console: the web console's static files, served from the package under a strict CSP of
their own (no inline script or style anywhere), only the shipped files, and nothing at all
with CONSOLE_ENABLED=false. No browser here: the files are checked as text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from src.api.console import CONSOLE_CSP, FILES
from src.core.scopes import CLIENT_SCOPES
from tests.support.apps import client_beside
from tests.support.settings import make_settings

CONSOLE_DIR = Path(__file__).resolve().parents[3] / "src" / "console"
EXPECTED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
MEDIA_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["']([^"']+)["']""", re.MULTILINE)


class PageParts(HTMLParser):
    """What a strict CSP cares about in a page: scripts, styles, style attributes, links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.style_blocks = 0
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []
        self.stylesheets: list[str] = []
        self.ids: list[str] = []
        self.labels_for: set[str] = set()
        self.controls: list[str] = []
        self.comboboxes: list[dict[str, str | None]] = []
        self.listboxes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "style" in values:
            self.style_attributes.append(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if values.get("id"):
            self.ids.append(str(values["id"]))
        if tag == "script":
            self.scripts.append(values)
        elif tag == "style":
            self.style_blocks += 1
        elif tag == "link" and values.get("rel") == "stylesheet":
            self.stylesheets.append(str(values["href"]))
        elif tag == "label" and values.get("for"):
            self.labels_for.add(str(values["for"]))
        elif tag in {"input", "select", "textarea"} and values.get("type") != "hidden":
            # (A hidden input is no control: a product picker keeps the chosen id in one.)
            self.controls.append(str(values.get("id")))
        if values.get("role") == "combobox":
            self.comboboxes.append(values)
        elif values.get("role") == "listbox":
            self.listboxes.add(str(values.get("id")))


def parse_page() -> PageParts:
    parts = PageParts()
    parts.feed((CONSOLE_DIR / "index.html").read_text(encoding="utf-8"))
    return parts


def modules() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in CONSOLE_DIR.glob("*.js")}


def page_references() -> set[str]:
    """The paths index.html's scripts and stylesheets resolve to, as a browser resolves
    them against the page's URL (/console, no trailing slash)."""
    page = parse_page()
    references = {str(script["src"]) for script in page.scripts} | set(page.stylesheets)
    return {urlsplit(urljoin("http://testserver/console", ref)).path for ref in references}


def referenced_files() -> set[str]:
    """index.html's scripts and stylesheets, and every module any of those imports."""
    names = {path.removeprefix("/console/") for path in page_references()}
    for name, source in modules().items():
        for target in IMPORT.findall(source):
            resolved = urlsplit(urljoin(f"http://testserver/console/{name}", target)).path
            assert resolved.startswith("/console/"), (name, target)
            names.add(resolved.removeprefix("/console/"))
    return names


def test_the_page_references_resolve_under_console() -> None:
    """Relative to /console, "app.js" would be /app.js: references name console/ first."""
    paths = page_references()
    assert paths
    for path in paths:
        assert path.startswith("/console/"), path
        assert "/" not in path.removeprefix("/console/")


async def test_the_console_page_is_html_under_its_own_strict_csp(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONSOLE_CSP == EXPECTED_CSP
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (CONSOLE_DIR / "index.html").read_bytes()
    again = await client.get("/console", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_the_page_has_no_inline_script_or_style_and_labels_every_control() -> None:
    page = parse_page()
    assert page.scripts, "the page loads its modules"
    for script in page.scripts:
        assert script.get("src"), "an inline <script> breaks under script-src 'self'"
        assert script.get("type") == "module"
    assert page.style_blocks == 0
    assert page.style_attributes == []
    assert page.handlers == []  # no onclick= and the like (inline script too)
    assert len(page.ids) == len(set(page.ids))
    assert page.controls
    assert set(page.controls) <= page.labels_for


def test_each_product_picker_is_a_combobox_with_its_listbox_and_id_field() -> None:
    """picker.js finds a picker's parts by its field's id (app.js); each part is there, and
    the field says it controls its list (ARIA 1.2 combobox)."""
    page = parse_page()
    pickers = {str(box["id"]) for box in page.comboboxes}
    assert pickers == {"post-product", "filter-product", "product-picker"}
    for box in page.comboboxes:
        assert box["aria-controls"] == f"{box['id']}-list" in page.listboxes
        assert (box["aria-expanded"], box["aria-autocomplete"]) == ("false", "list")
        assert box["autocomplete"] == "off"
        assert {f"{box['id']}-id", f"{box['id']}-status"} <= set(page.ids)
    # The posting form submits the chosen id under the API's name for it.
    assert 'id="post-product-id" name="product_id" type="hidden"' in (
        CONSOLE_DIR / "index.html"
    ).read_text(encoding="utf-8")


def test_the_client_form_offers_exactly_the_scopes_a_client_can_hold() -> None:
    page = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    offered = re.findall(r'name="scopes" type="checkbox" value="([^"]+)"', page)
    assert len(offered) == len(set(offered))
    assert set(offered) == {str(scope) for scope in CLIENT_SCOPES}
    # Each checkbox's id is its scope's, so a test (or a label) can name it.
    for scope in offered:
        assert f'id="client-scope-{scope.replace(":", "-")}"' in page


@pytest.mark.parametrize("name", sorted(path.name for path in CONSOLE_DIR.iterdir()))
def test_no_file_loads_anything_from_elsewhere(name: str) -> None:
    text = (CONSOLE_DIR / name).read_text(encoding="utf-8")
    # The SVG namespace is a name, never fetched.
    text = text.replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://", text), "no CDN, no other origin"
    assert "localStorage" not in text
    assert "innerHTML" not in text


async def test_every_referenced_file_is_served_with_its_media_type(
    client: httpx.AsyncClient,
) -> None:
    names = referenced_files()
    assert {"app.js", "api.js", "session.js", "board.js", "console.css"} <= names
    for name in sorted(names):
        assert name in FILES, name
        response = await client.get(f"/console/{name}")
        assert response.status_code == 200, name
        media_type = MEDIA_TYPES[Path(name).suffix]
        assert response.headers["content-type"] == f"{media_type}; charset=utf-8", name
        assert response.headers["content-security-policy"] == EXPECTED_CSP
        assert response.content == (CONSOLE_DIR / name).read_bytes()


def test_every_shipped_file_is_used() -> None:
    assert set(FILES) == referenced_files() | {"index.html"}


async def raw_get(app: FastAPI, path: str) -> int:
    """The status of a GET whose path reaches the app exactly as written (no client
    normalises its dot segments first)."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return statuses[0]


@pytest.mark.parametrize(
    "path",
    [
        "/console/../pyproject.toml",
        "/console/%2e%2e/pyproject.toml",
        "/console/..%2fpyproject.toml",
        "/console/%2e%2e%2fpyproject.toml",
        "/console/..",
        "/console/nope.js",
        "/console/__init__.py",
        "/console/.%2findex.html",
    ],
)
async def test_only_the_shipped_files_are_served(
    app: FastAPI, client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 404
    assert await raw_get(app, path) == 404
    assert await raw_get(app, path.replace("%2e", ".").replace("%2f", "/")) == 404


async def test_a_decoded_traversal_never_reaches_a_file(app: FastAPI) -> None:
    assert await raw_get(app, "/console/../../pyproject.toml") == 404
    assert await raw_get(app, "/console/index.html") == 200


async def test_the_api_keeps_its_own_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/products")
    assert response.status_code == 401
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    health = await client.get("/api/health")
    assert health.headers["content-security-policy"] == "frame-ancestors 'none'"


async def test_the_console_is_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


async def test_console_enabled_false_serves_no_console(app: FastAPI, tmp_path: Path) -> None:
    settings = app.state.settings
    assert settings.http.console_enabled is True
    off = make_settings(str(settings.database.database_url), tmp_path, console_enabled=False)
    async with client_beside(app, off) as client:
        assert (await client.get("/console")).status_code == 404
        assert (await client.get("/console/app.js")).status_code == 404
        assert (await client.get("/api/health")).status_code == 200


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("text", "bg"),
        ("text", "panel"),
        ("text", "low-bg"),
        ("muted", "bg"),
        ("muted", "panel"),
        ("accent", "bg"),
        ("accent-text", "accent"),
        ("error", "bg"),
        ("ok", "bg"),
        ("low-mark", "low-bg"),
        ("low-mark", "bg"),
    ],
)
def test_text_colours_meet_wcag_aa_contrast(text: str, background: str) -> None:
    css = (CONSOLE_DIR / "console.css").read_text(encoding="utf-8")
    palette = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    assert _contrast(palette[text], palette[background]) >= 4.5
