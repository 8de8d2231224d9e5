"""OpenAPI post-processing, so the document says what the wire carries and code generators
read it well: error responses are `application/problem+json` with the Problem schema
(FastAPI would say application/json and, for 422, its own HTTPValidationError shape, which
this service never sends); optional parameters are typed by what they are (a query string or
header is never null); schemas have readable names; response headers are documented
(`headers.py`); the event stream names its frame."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from src.api.openapi.headers import document_headers
from src.api.openapi.schemas import REF, describe_streams, name_components, type_parameters
from src.api.problems import PROBLEM_MEDIA_TYPE
from src.api.v1.prefix import API_V1

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


# A refusal by the HTTP layer (src/core/http_protocol.py), before the request reaches the
# service: a problem without `instance` or `request_id` (and no X-Request-ID header). One
# named component, referenced from every operation: an inline schema made generated clients
# grow one model per operation.
REFUSED_HEADERS = "431"
REFUSED_PROBLEM = "RefusedProblem"
_BARE_PROBLEM = {
    "title": REFUSED_PROBLEM,
    "description": "A problem written by the HTTP layer before the request reached the "
    "service (headers too large): no `instance`, no `request_id`",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}

_ADDED = {
    "400": "Malformed request (invalid JSON, wrong content type, a JSON member named twice, "
    "more than 1,000 members in an object or 100 query parameters)",
    "413": "Request body too large",
}
# Every operation refuses a query of more than 100 distinct parameters (too-many-fields).
_QUERY_400 = "Malformed request (more than 100 query parameters)"


def _problemize(schema: dict[str, Any]) -> None:
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            _complete(path, operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components[REFUSED_PROBLEM] = copy.deepcopy(_BARE_PROBLEM)


def _complete(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # Every operation may fail unexpectedly; every body may be malformed or too large.
    responses.setdefault("500", {"description": "Unexpected error (generic, with request_id)"})
    responses.setdefault(
        REFUSED_HEADERS,
        {"description": "The request line and headers exceed MAX_HEADER_BYTES (refused unread)"},
    )
    if "requestBody" in operation:
        for status, description in _ADDED.items():
            responses.setdefault(status, {"description": description})
    responses.setdefault("400", {"description": _QUERY_400})
    if path.startswith(API_V1):
        # Every versioned operation is rate limited and needs the database.
        responses.setdefault("429", {"description": "Rate limited (see Retry-After)"})
        responses.setdefault("503", {"description": "A dependency is unavailable; retry"})
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "If-Match":
            # Optional to FastAPI so that its absence is a 428 problem (RFC 6585), not a 422;
            # to clients it is required where its absence is a 428 (PATCH), optional elsewhere
            # (DELETE honours it when sent).
            parameter["required"] = "428" in responses
            parameter["schema"] = {"type": "string", "title": "If-Match"}
    if path.endswith("/auth/token"):
        responses.pop("422", None)  # the token endpoint answers RFC 6749 errors instead
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        content = response.setdefault("content", {})
        if status == REFUSED_HEADERS:
            content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": REF + REFUSED_PROBLEM}}
            continue
        json_schema = content.pop("application/json", {}).get("schema")
        # Keep a non-problem body where one is documented (the OAuth2 token errors).
        if json_schema and json_schema != PROBLEM_REF and status != "422":
            content["application/json"] = {"schema": json_schema}
            content.pop(PROBLEM_MEDIA_TYPE, None)
            continue
        content[PROBLEM_MEDIA_TYPE] = {"schema": PROBLEM_REF}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for step in (_problemize, type_parameters, name_components, describe_streams):
                step(schema)
            document_headers(schema)  # last: it needs every response in place
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
