"""OpenAPI post-processing: error responses are documented as what they are on the wire,
`application/problem+json` with the Problem schema (FastAPI would say application/json and,
for 422, its own HTTPValidationError shape, which this service never sends)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from src.api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problemize(schema: dict[str, Any]) -> dict[str, Any]:
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            if not status.isdigit() or int(status) < 400:
                continue
            content = response.setdefault("content", {})
            json_schema = content.pop("application/json", {}).get("schema")
            # Keep a non-problem body where one is documented (the OAuth2 token errors).
            if json_schema and json_schema != PROBLEM_REF and status != "422":
                content["application/json"] = {"schema": json_schema}
                content.pop(PROBLEM_MEDIA_TYPE, None)
                continue
            content[PROBLEM_MEDIA_TYPE] = {"schema": PROBLEM_REF}
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _problemize(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
