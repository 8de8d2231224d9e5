"""Schemas in the OpenAPI document as a client generator needs them: readable component
names, parameters that cannot be null, and the frame of each event stream."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from src.api.v1.prefix import API_V1
from src.schemas.stream import FeedEvent, MovementEvent

REF = "#/components/schemas/"
_NULL = {"type": "null"}
READABLE = re.compile(r"[A-Z][A-Za-z0-9]*")

# Streams (path -> the model of one event); OpenAPI 3.1 has no SSE item schema, so the
# media type points at it through an extension.
EVENT_STREAMS: dict[str, type[BaseModel]] = {
    f"{API_V1}/stock/events": MovementEvent,
    f"{API_V1}/events/stream": FeedEvent,
}


def never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`X | None` as it is on the wire for a query parameter, header or form field: absent
    or an X, never null. FastAPI publishes anyOf [X, null]."""
    branches = schema.get("anyOf")
    if not branches or _NULL not in branches:
        return schema
    rest = [branch for branch in branches if branch != _NULL]
    kept = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest[0], **kept} if len(rest) == 1 else {**kept, "anyOf": rest}


def type_parameters(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = never_null(parameter["schema"])


def name_components(schema: dict[str, Any]) -> None:
    """Readable component names. Pydantic names `Page[ProductRead]` "Page_ProductRead_" (its
    title, from `Page.model_parametrized_name`, is "ProductPage") and FastAPI a form body
    "Body_<operation id>": each takes its title, a form body `<Summary>Request` (the token
    form: TokenRequest) with its fields typed as sent (absent or a string)."""
    components = schema.get("components", {}).get("schemas", {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                body = components.get(media.get("schema", {}).get("$ref", "").removeprefix(REF))
                if body is None or not str(body.get("title", "")).startswith("Body_"):
                    continue
                words = str(operation.get("summary", "")).split()
                body["title"] = "".join(w[:1].upper() + w[1:] for w in words) + "Request"
                body["properties"] = {k: never_null(v) for k, v in body["properties"].items()}
    renamed: dict[str, str] = {}
    for name, component in list(components.items()):
        title = str(component.get("title", ""))
        # FastAPI's -Input/-Output variants of one model share its title.
        new = title + "".join(w for w in ("Input", "Output") if name.endswith("-" + w))
        if not READABLE.fullmatch(name) and READABLE.fullmatch(new) and new not in components:
            components[new] = components.pop(name)
            renamed[REF + name] = REF + new
    _replace_refs(schema, renamed)
    schema["components"]["schemas"] = dict(sorted(components.items()))


def _replace_refs(node: Any, refs: dict[str, str]) -> None:
    if isinstance(node, dict):
        if node.get("$ref") in refs:
            node["$ref"] = refs[node["$ref"]]
        for value in node.values():
            _replace_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _replace_refs(value, refs)


def describe_streams(schema: dict[str, Any]) -> None:
    """Each stream's 200 is `text/event-stream` text whose events follow a named model."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path, model in EVENT_STREAMS.items():
        operation = schema.get("paths", {}).get(path, {}).get("get")
        if operation is None:
            continue
        _, definitions = models_json_schema(
            [(model, "serialization")], ref_template=REF + "{model}"
        )
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault(name, definition)
        operation["responses"]["200"]["content"] = {
            "text/event-stream": {
                "schema": {
                    "type": "string",
                    "description": f"Server-Sent Events; each event is a {model.__name__} "
                    "(see x-event-data), heartbeats are comment lines",
                },
                "x-event-data": {"$ref": REF + model.__name__},
            }
        }
