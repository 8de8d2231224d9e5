"""`GET /problems/{slug}`: the `type` of every problem resolves to a short page saying what
it means and what to do (texts in `src.api.problem_pages`).

HTML for people following the link, JSON for programs that ask for `application/json`.
Outside /api/v1 like the health checks: no token, not rate limited, never a 503.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from src.api.problem_pages import PAGES, ProblemPage
from src.api.responses import PUBLIC, problem_responses
from src.api.routing import LimitedRoute
from src.core.exceptions import NotFound
from src.schemas.problem_type import ProblemTypeRead

router = APIRouter(tags=["problems"], route_class=LimitedRoute)

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;"
    "padding:0 1rem;color:#1f2328}code{background:#eff1f3;padding:0 .25em;border-radius:3px}"
    ".status{color:#59636e}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# The page needs nothing but its own inline style: no scripts, images or requests.
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The texts change only with a release.
CACHE_CONTROL = "public, max-age=86400"
_LITERAL = re.compile(r"`([^`]+)`")
_HTML_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The problem type: an HTML page, or JSON when `Accept` prefers it",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/problems/{slug}",
    operation_id="getProblemType",
    openapi_extra=PUBLIC,
    response_model=ProblemTypeRead,
    responses={**_HTML_CONTENT, **problem_responses(404)},
)
async def get_problem_type(
    slug: Annotated[str, Path(examples=["duplicate"])], request: Request
) -> Response:
    """What a problem `type` (`/problems/<slug>`) means and what a client should do about it."""
    page = PAGES.get(slug)
    if page is None:
        raise NotFound("No problem type has this name")
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Accept"}
    if prefers_json(request.headers.get("accept")):
        body = ProblemTypeRead(
            slug=page.slug,
            title=page.title,
            status=page.status,
            meaning=page.meaning,
            action=page.action,
        )
        return JSONResponse(body.model_dump(), headers=headers)
    return HTMLResponse(render(page), headers={**headers, "Content-Security-Policy": PAGE_CSP})


def _text(value: str) -> str:
    return _LITERAL.sub(r"<code>\1</code>", html.escape(value))


def render(page: ProblemPage) -> str:
    title = html.escape(page.title)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title} ({page.status}) - Stockroom problem type</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{title}</h1>\n"
        f'<p class="status">HTTP {page.status} &middot; '
        f"<code>{html.escape(page.type)}</code></p>\n"
        f"<h2>What it means</h2>\n<p>{_text(page.meaning)}</p>\n"
        f"<h2>What to do</h2>\n<p>{_text(page.action)}</p>\n"
        "</main>\n</body>\n</html>\n"
    )


def prefers_json(accept: str | None) -> bool:
    """True when `Accept` ranks application/json above text/html (RFC 9110 §12.5.1: the most
    specific range that matches gives each its quality). No header, or a tie: HTML."""
    if not accept:
        return False
    return _quality(accept, "application/json") > _quality(accept, "text/html")


def _quality(accept: str, offer: str) -> float:
    best_specificity, quality = -1, 0.0
    kind = offer.split("/")[0]
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        specificity = {offer: 2, f"{kind}/*": 1, "*/*": 0}.get(media)
        if specificity is None or specificity <= best_specificity:
            continue
        best_specificity, quality = specificity, _q(params)
    return quality


def _q(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
