"""Response headers in the OpenAPI document: one definition each in `components.headers`,
referenced from every response that can carry it.

`required` is true only where the server always sends the header on that response
(Schemathesis fails a response that lacks a required one): X-Request-ID everywhere,
Location on every 201 (but a stream ticket's, which is no resource), ETag where the route
documents it, Retry-After on 429 and WWW-Authenticate on 401. The rest depend on
circumstances and are optional.
"""

from __future__ import annotations

import copy
from typing import Any

from src.api.v1.prefix import API_V1

Operation = dict[str, Any]

_TEXT = {"type": "string"}
_SECONDS = {"type": "integer", "minimum": 1}


def _header(description: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


# Keyed by component name; a response names the header itself (e.g. "Retry-After").
COMPONENTS: dict[str, dict[str, Any]] = {
    "X-Request-ID": _header(
        "The request's id: the caller's X-Request-ID when it is 1-128 characters of "
        "[A-Za-z0-9._-], else a new UUID. Problems carry it as `request_id`; quote it "
        "when reporting one.",
        _TEXT,
        required=True,
    ),
    "Location": _header(
        "Where the created resource is read: its URL, or for a transfer or count the list "
        "of its movements",
        {"type": "string", "format": "uri-reference"},
        required=True,
    ),
    "ETag": _header(
        'The resource\'s version, `"v<version>"`: send it as If-Match to change the '
        "resource and as If-None-Match to read it only when it changed",
        _TEXT,
        required=True,
    ),
    "Idempotent-Replayed": _header(
        "`true` when this is the stored response to an earlier request with the same "
        "Idempotency-Key (nothing was posted again); absent otherwise",
        {"type": "string", "enum": ["true"]},
        required=False,
    ),
    "RateLimit-Limit": _header(
        "Requests allowed per window (RATE_LIMIT_DEFAULT) for this caller; absent while "
        "the counter storage is unreachable",
        {"type": "integer", "minimum": 0},
        required=False,
    ),
    "RateLimit-Remaining": _header(
        "Requests left in the current window; absent while the counter storage is unreachable",
        {"type": "integer", "minimum": 0},
        required=False,
    ),
    "RateLimit-Reset": _header(
        "Seconds until the window has room again; absent while the counter storage is unreachable",
        _SECONDS,
        required=False,
    ),
    "Retry-After": _header(
        "Seconds to wait before retrying",
        _SECONDS,
        required=True,
    ),
    "Retry-After-Optional": _header(
        "Seconds to wait before retrying, when the server knows (database unavailable, "
        "an Idempotency-Key still in flight)",
        _SECONDS,
        required=False,
    ),
    "WWW-Authenticate": _header(
        '`Bearer`, or `Bearer error="invalid_token"` when the token sent is invalid, '
        "expired or revoked (RFC 6750)",
        _TEXT,
        required=True,
    ),
}

_RATE_LIMIT = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
# 201s that create nothing one can GET, so they send no Location.
_NO_LOCATION = frozenset({"createStreamTicket"})


def _ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{component}"}


def _headers_for(
    path: str, operation: Operation, status: str, documented: set[str]
) -> dict[str, str]:
    """Response header name -> component, for one response of one operation."""
    if status == "431":  # written by the HTTP layer before the request reached the service
        return {}
    idempotent = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    names = {"X-Request-ID": "X-Request-ID"}
    if "ETag" in documented:  # the route says it sends one (src/api/responses.py)
        names["ETag"] = "ETag"
    if path.startswith(API_V1):  # RateLimitMiddleware
        names |= {name: name for name in _RATE_LIMIT}
    if status in ("200", "201") and idempotent:  # a POST answered from its stored reply
        names["Idempotent-Replayed"] = "Idempotent-Replayed"
    if status == "201":
        if operation.get("operationId") not in _NO_LOCATION:
            names["Location"] = "Location"
    elif status == "401":
        names["WWW-Authenticate"] = "WWW-Authenticate"
    elif status == "429":
        names["Retry-After"] = "Retry-After"
    elif status == "503" or (status == "409" and idempotent):
        names["Retry-After"] = "Retry-After-Optional"
    return names


def document_headers(schema: dict[str, Any]) -> None:
    """Replace each response's headers with references to the shared definitions."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                # A header a route documents that is not shared here keeps its definition.
                headers = response.setdefault("headers", {})
                names = _headers_for(path, operation, status, set(headers))
                headers.update({name: _ref(component) for name, component in names.items()})
    schema.setdefault("components", {})["headers"] = copy.deepcopy(COMPONENTS)
