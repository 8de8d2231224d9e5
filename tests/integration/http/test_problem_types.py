"""GET /problems/{slug}: every problem `type` resolves to a page saying what it means and what
to do: HTML by default, JSON for `Accept: application/json`; unknown slugs are 404 problems."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from src.api.problem_pages import PAGES
from src.api.problem_types import PAGE_CSP
from tests.support.apps import client_beside
from tests.support.settings import make_settings

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.mark.parametrize("slug", sorted(PAGES))
async def test_every_problem_type_has_a_page_and_a_json_form(
    client: httpx.AsyncClient, slug: str
) -> None:
    page = PAGES[slug]
    response = await client.get(f"/problems/{slug}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f"<h1>{page.title}</h1>" in response.text
    assert f"HTTP {page.status}" in response.text
    assert f"<code>/problems/{slug}</code>" in response.text
    as_json = await client.get(f"/problems/{slug}", headers={"Accept": "application/json"})
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {
        "slug": slug,
        "title": page.title,
        "status": page.status,
        "meaning": page.meaning,
        "action": page.action,
    }


async def test_the_html_page_is_small_self_contained_and_escaped(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/problems/validation-error")
    assert len(response.content) < 4096
    assert not EXTERNAL.search(response.text)
    assert "<script" not in response.text
    # Backticked literals are code; quotes in the text are escaped.
    assert "<code>[&quot;body&quot;, &quot;sku&quot;]</code>" in response.text
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert "script-src" not in PAGE_CSP  # default-src 'none' forbids scripts
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("text/html,application/json", "text/html"),
        ("application/json;q=0.9,text/html;q=0.8", "application/json"),
        ("application/*", "application/json"),
        ("text/html;q=0, */*", "application/json"),
        ("application/json;q=0", "text/html"),
    ],
)
async def test_the_accept_header_picks_the_form(
    client: httpx.AsyncClient, accept: str | None, media: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await client.get("/problems/duplicate", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media


@pytest.mark.parametrize("slug", ["no-such-type", "oauth-error", "error", "<b>x", "CONFLICT"])
async def test_an_unknown_slug_is_a_404_problem(client: httpx.AsyncClient, slug: str) -> None:
    for accept in ("text/html", "application/json"):
        response = await client.get(f"/problems/{slug}", headers={"Accept": accept})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "/problems/not-found"
        assert body["request_id"] == response.headers["x-request-id"]
        assert body["instance"] == f"/problems/{slug}"
        assert slug not in body["detail"]  # never echoed


async def test_other_methods_are_405_and_head_works(client: httpx.AsyncClient) -> None:
    posted = await client.post("/problems/conflict", json={})
    assert posted.status_code == 405
    assert posted.json()["type"] == "/problems/method-not-allowed"
    assert posted.headers["allow"] == "GET"
    head = await client.head("/problems/conflict")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0


async def test_the_type_of_a_real_problem_resolves(
    client: httpx.AsyncClient, viewer_headers: dict[str, str]
) -> None:
    answers = [
        await client.get("/api/v1/users/me"),  # 401
        await client.post("/api/v1/products", json={"sku": "A"}, headers=viewer_headers),  # 403
        await client.get("/api/v1/nowhere"),  # 404
    ]
    for answer in answers:
        problem = answer.json()
        page = await client.get(problem["type"], headers={"Accept": "application/json"})
        assert page.status_code == 200, problem["type"]
        assert page.json()["status"] == problem["status"] == answer.status_code
        assert page.json()["title"] == problem["title"]


async def test_problem_pages_are_outside_the_rate_limit(
    app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, rate_limit_default="2/minute")
    async with client_beside(app, settings) as limited:
        pages = [await limited.get("/problems/rate-limited") for _ in range(4)]
        assert [r.status_code for r in pages] == [200] * 4
        assert all("ratelimit-limit" not in r.headers for r in pages)
        api = [await limited.get("/api/v1/users/me") for _ in range(3)]
        assert [r.status_code for r in api] == [401, 401, 429]


async def test_the_operation_is_published_outside_the_versioned_api(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    operation = document["paths"]["/problems/{slug}"]["get"]
    assert operation["operationId"] == "getProblemType"
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/html"}
    assert "429" not in operation["responses"]
    assert operation["security"] == []  # public, and says so
