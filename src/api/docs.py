"""Swagger UI at /docs with every asset served by the service itself, so the page works
offline and behind proxies that block CDNs.

The JS, CSS and favicon are package data of fastapi-offline; the page is FastAPI's own
`get_swagger_ui_html`, pointed at them. Asset URLs carry the package version, so they can be
cached for a year: an upgrade changes the URL. The page has a CSP of its own that allows
only this origin and the hash of its one inline script.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import metadata, resources

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from src.core.exceptions import NotFound

DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = f"{DOCS_PATH}/oauth2-redirect"
ASSET_PATH = f"{DOCS_PATH}/assets/{metadata.version('fastapi-offline')}"
# The only files served, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        # The Authorize button logs in through the token endpoint the OpenAPI document
        # names (OAuth2 password flow); this page only finishes other flows.
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
        swagger_js_url=f"{root}{ASSET_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSET_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSET_PATH}/favicon.png",
        # No calls to the public validator service.
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _with_own_csp(page)


@router.get(OAUTH2_REDIRECT_PATH)
async def swagger_ui_redirect() -> HTMLResponse:
    return _with_own_csp(get_swagger_ui_oauth2_redirect_html())


@router.get(f"{ASSET_PATH}/{{name}}")
async def swagger_ui_asset(name: str, request: Request) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound("No such documentation asset")
    content, tag = await run_in_threadpool(_asset, name)
    headers = {"Cache-Control": ASSET_CACHE_CONTROL, "ETag": tag}
    sent = request.headers.get("if-none-match", "")
    if tag in (part.strip() for part in sent.split(",")) or sent.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and a strong ETag of them, read once per process."""
    content = (resources.files("fastapi_offline") / "static" / name).read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'


def _with_own_csp(page: HTMLResponse) -> HTMLResponse:
    """Scripts and styles from this origin only, plus the page's own inline scripts by hash
    (Swagger UI sets inline styles, and draws icons from data: URIs)."""
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return page
