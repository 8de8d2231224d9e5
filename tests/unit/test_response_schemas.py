"""Response schemas say what every answer carries: a member the server always sends is
`required`, so generated types (openapi-typescript with `--default-non-nullable false`, the
README's command) need no `undefined` check for it; a member left out at times is optional,
never null and without a default, and the model drops it itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from src.api.openapi import install_openapi
from src.config import load_settings
from src.main import create_app
from src.schemas.auth import TokenResponse
from src.schemas.base import Schema
from src.schemas.health import CheckRead, HealthRead, ReadinessRead
from src.schemas.problem import Problem

Document = dict[str, Any]
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def document() -> Document:
    app = create_app(load_settings(secret_key="responses-" + "k" * 40 + "0123456789abcdef"))
    return app.openapi()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            yield ref.removeprefix(REF)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def response_schemas(document: Document) -> set[str]:
    """Every component a response body refers to, directly or through another (event
    stream frames included)."""
    components = document["components"]["schemas"]
    found: set[str] = set()
    pending = [
        name
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for name in _refs(operation.get("responses", {}))
    ]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(_refs(components[name]))
    return found


def admits_null(node: dict[str, Any]) -> bool:
    return node.get("type") == "null" or any(admits_null(b) for b in node.get("anyOf", []))


def optional_members(document: Document, name: str) -> dict[str, dict[str, Any]]:
    component = document["components"]["schemas"][name]
    required = set(component.get("required", []))
    return {k: v for k, v in component.get("properties", {}).items() if k not in required}


def test_every_response_member_with_a_value_is_required(document: Document) -> None:
    """A member with a default (or null) is always sent: optional only when left out."""
    names = response_schemas(document)
    assert {"TokenResponse", "HealthRead", "ReadinessRead", "CheckRead", "Problem"} <= names
    loose = {
        (name, member)
        for name in names
        for member, schema in optional_members(document, name).items()
        if "default" in schema or admits_null(schema)
    }
    assert not loose, sorted(loose)


def test_the_token_and_health_answers_require_what_they_always_send(document: Document) -> None:
    components = document["components"]["schemas"]
    token = components["TokenResponse"]
    # refresh_token: every password and refresh grant sends it; the client credentials grant
    # has none (RFC 6749 §4.4.3), so it is optional, never null.
    assert set(token["required"]) == {"access_token", "token_type", "expires_in"}
    assert token["properties"]["token_type"]["const"] == "bearer"
    assert token["properties"]["expires_in"]["type"] == "integer"
    assert components["HealthRead"]["required"] == ["status"]
    assert set(components["ReadinessRead"]["required"]) == {"status", "checks"}
    assert components["CheckRead"]["required"] == ["status"]


def test_members_sent_only_at_times_stay_optional_and_never_null(document: Document) -> None:
    token = optional_members(document, "TokenResponse")
    assert set(token) == {"device_token", "refresh_token", "scope"}
    assert {member["type"] for member in token.values()} == {"string"}
    check = optional_members(document, "CheckRead")
    assert set(check) == {"latency_ms", "detail"}
    assert [check["latency_ms"]["type"], check["detail"]["type"]] == ["number", "string"]
    assert set(optional_members(document, "StockLevelRead")) == {"product", "location"}
    problem = optional_members(document, "Problem")
    assert {"errors", "available", "on_hand", "current_etag", "checks", "field"} <= set(problem)
    assert not any(admits_null(member) for member in problem.values())


@pytest.mark.parametrize(
    ("model", "absent"),
    [
        (
            TokenResponse(access_token="a", expires_in=60, refresh_token="r"),
            {"device_token", "scope"},
        ),
        (TokenResponse(access_token="a", expires_in=60, scope="s"), {"refresh_token"}),
        (CheckRead(status="disabled"), {"latency_ms", "detail"}),
        (
            Problem(type="t", title="T", status=409, detail="d", instance="/", request_id="r"),
            {"errors", "available", "on_hand", "current_etag", "checks", "field"},
        ),
    ],
)
def test_an_optional_member_without_a_value_is_left_out_not_null(
    model: BaseModel, absent: set[str]
) -> None:
    """What the schema leaves optional the model drops itself, whatever the route asks."""
    body = model.model_dump(mode="json")
    assert absent.isdisjoint(body), body
    assert None not in body.values(), body
    assert absent.isdisjoint(json.loads(model.model_dump_json())), body


def test_defaulted_members_are_sent_by_the_models() -> None:
    assert HealthRead().model_dump(mode="json") == {"status": "ok"}
    token = TokenResponse(access_token="a", expires_in=60, refresh_token="r", device_token="d")
    assert token.model_dump(mode="json")["token_type"] == "bearer"
    assert token.model_dump(mode="json")["device_token"] == "d"
    ready = ReadinessRead(status="ok", checks={"db": CheckRead(status="ok", latency_ms=1.5)})
    assert ready.model_dump(mode="json")["checks"]["db"] == {"status": "ok", "latency_ms": 1.5}


class Shared(Schema):
    """A model both sent and answered: FastAPI publishes it twice when the two differ."""

    name: str
    unit: str = "each"


def test_a_model_in_a_request_and_a_response_gets_readable_input_and_output_names() -> None:
    app = FastAPI()

    @app.post("/shared", operation_id="echoShared")
    async def echo(body: Shared) -> Shared:
        return body

    install_openapi(app)
    document = app.openapi()
    components = document["components"]["schemas"]
    assert {name for name in components if "Shared" in name} == {"SharedInput", "SharedOutput"}
    operation = document["paths"]["/shared"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert [body["$ref"], answer["$ref"]] == [REF + "SharedInput", REF + "SharedOutput"]
    # A request may leave out `unit`; the answer always carries it.
    assert components["SharedInput"]["required"] == ["name"]
    assert components["SharedOutput"]["required"] == ["name", "unit"]
