"""The web console at /console: static HTML, CSS and JavaScript modules shipped in the
package (src/console), a client of /api/v1 like any other.

Only the files found in that directory at import time with a known suffix are served, by
name: a name is a key of that mapping or a 404, so no request can reach another file. The
responses carry a strict CSP of their own (no inline script or style, requests to this
origin only), which the request layer leaves in place; the API's headers are unchanged.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from src.core.exceptions import NotFound

CONSOLE_PATH = "/console"
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
# Revalidated on every use (cheap with the ETag): a new release is picked up at once.
CACHE_CONTROL = "no-cache"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
_DIRECTORY = resources.files("src") / "console"


def _shipped() -> dict[str, str]:
    """Each servable file's name and media type."""
    files: dict[str, str] = {}
    for entry in _DIRECTORY.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in MEDIA_TYPES and not entry.name.startswith("."):
            files[entry.name] = MEDIA_TYPES[suffix]
    return files


FILES = _shipped()

router = APIRouter(include_in_schema=False)


@router.get(CONSOLE_PATH)
async def console_page(request: Request) -> Response:
    return await _serve("index.html", request)


@router.get(f"{CONSOLE_PATH}/{{name}}")
async def console_file(name: str, request: Request) -> Response:
    return await _serve(name, request)


async def _serve(name: str, request: Request) -> Response:
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound("No such console file")
    content, tag = await run_in_threadpool(_read, name)
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": tag,
        "Content-Security-Policy": CONSOLE_CSP,
    }
    sent = request.headers.get("if-none-match", "")
    if tag in (part.strip() for part in sent.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


@functools.cache
def _read(name: str) -> tuple[bytes, str]:
    """The file's bytes and a strong ETag of them, read once per process (small files)."""
    content = (_DIRECTORY / name).read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'
