"""OpenAPI descriptions of the problem responses, so each route documents its errors."""

from typing import Any

from fastapi import Response

from src.core.exceptions import PROBLEM_FOR_STATUS
from src.core.preconditions import etag, none_match
from src.schemas.problem import Problem

# When each status happens; the problem's title and type come from src.core.exceptions.
_WHEN = {
    400: "invalid JSON, wrong content type, bad cursor, a JSON member named twice, too many "
    "members or query parameters",
    401: "missing, invalid or expired credentials",
    403: "authenticated but not allowed",
    404: "no such resource",
    409: "the request conflicts with the current state",
    410: "the position is older than the event retention",
    412: "If-Match does not match the current ETag",
    413: "request body too large",
    422: "the request breaks a validation rule",
    428: "If-Match header required",
    429: "too many requests; see Retry-After",
    503: "a dependency is unavailable; retry shortly",
}


# An operation anyone may call, on purpose: `openapi_extra=PUBLIC`. It says so in the OpenAPI
# document (`security: []`), so the test that walks the document (every operation declares a
# scope) tells "public" from "forgot". Every public operation's entry shares its list: never
# mutate it.
PUBLIC: dict[str, Any] = {"security": []}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        kind = PROBLEM_FOR_STATUS[status]
        responses[status] = {
            "model": Problem,
            "description": f"{kind.title}: {_WHEN[status]}",
        }
    return responses


def item_links(item_path: str, id_param: str) -> dict[str, Any]:
    """OpenAPI links from a response carrying a resource to reading, updating (with the ETag
    just received as If-Match) and archiving it; clients and Schemathesis follow them."""
    ref = "#/paths/" + item_path.replace("~", "~0").replace("/", "~1")
    by_id = {id_param: "$response.body#/id"}
    return {
        "Read": {"operationRef": f"{ref}/get", "parameters": by_id},
        "Update": {
            "operationRef": f"{ref}/patch",
            "parameters": {**by_id, "header.If-Match": "$response.header.ETag"},
        },
        "Archive": {"operationRef": f"{ref}/delete", "parameters": by_id},
    }


def with_etag(description: str, links: dict[str, Any]) -> dict[str, Any]:
    """A success response that carries the resource's ETag, with its links."""
    return {
        "description": description,
        "headers": {
            "ETag": {
                "description": "Version of the resource, for If-Match",
                "schema": {"type": "string"},
            }
        },
        "links": links,
    }


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Not modified: If-None-Match names the current ETag (no body)",
        "headers": {"ETag": {"description": "The current version", "schema": {"type": "string"}}},
    }
}


def not_modified(if_none_match: str | None, version: int) -> Response | None:
    """The 304 for a GET whose If-None-Match names the current version, else None."""
    if not none_match(if_none_match, version):
        return None
    return Response(status_code=304, headers={"ETag": etag(version)})
