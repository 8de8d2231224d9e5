"""The published OpenAPI document reads well to code generators: readable schema names,
parameters that say what they are, response headers, problem members and the event frame."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from src.config import load_settings
from src.main import create_app
from src.schemas.problem import Problem

Document = dict[str, Any]
NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
API_V1 = "/api/v1"
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


@pytest.fixture(scope="module")
def document() -> Document:
    app = create_app(load_settings(secret_key="openapi-" + "k" * 40 + "0123456789abcdef"))
    return app.openapi()


def resolve(document: Document, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert key in node, f"unresolvable $ref {ref}"
        node = node[key]
    return node


def deref(document: Document, node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = resolve(document, node["$ref"])
    return node


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def admits_null(document: Document, schema: dict[str, Any]) -> bool:
    schema = deref(document, schema)
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    if "const" in schema and schema["const"] is None:
        return True
    if None in schema.get("enum", ()):
        return True
    return any(admits_null(document, s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))


def headers_of(document: Document, response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: deref(document, h) for name, h in response.get("headers", {}).items()}


# 1. Named schemas


def test_every_component_schema_has_a_readable_name(document: Document) -> None:
    names = list(document["components"]["schemas"])
    assert names
    unreadable = [name for name in names if not NAME.fullmatch(name)]
    assert not unreadable, f"generated schema names: {unreadable}"


def test_pages_and_the_token_form_are_named_after_what_they_hold(document: Document) -> None:
    schemas = document["components"]["schemas"]
    for page in ("ProductPage", "LocationPage", "MovementPage", "StockLevelPage", "UserPage"):
        assert set(schemas[page]["properties"]) == {"items", "next_cursor"}
        assert schemas[page]["title"] == page
    token = document["paths"][f"{API_V1}/auth/token"]["post"]["requestBody"]["content"]
    form = token["application/x-www-form-urlencoded"]["schema"]
    assert form == {"$ref": "#/components/schemas/TokenRequest"}
    assert schemas["TokenRequest"]["title"] == "TokenRequest"
    assert {"grant_type", "username", "password", "refresh_token"} <= set(
        schemas["TokenRequest"]["properties"]
    )


def test_every_ref_resolves(document: Document) -> None:
    refs = [node["$ref"] for node in walk(document) if isinstance(node.get("$ref"), str)]
    assert len(refs) > 50
    for ref in refs:
        resolve(document, ref)


# 2. Parameters


def test_no_parameter_admits_null(document: Document) -> None:
    checked = 0
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            assert not admits_null(document, parameter["schema"]), (method, path, parameter)
            checked += 1
    assert checked > 40


def test_optional_parameters_keep_their_type(document: Document) -> None:
    def parameter(path: str, name: str, method: str = "get") -> dict[str, Any]:
        listed = document["paths"][f"{API_V1}{path}"][method]["parameters"]
        (found,) = [p for p in listed if p["name"] == name]
        return dict(found)

    since = parameter("/stock/movements", "since")
    assert since["required"] is False
    assert since["schema"]["type"] == "string"
    assert since["schema"]["format"] == "date-time"
    assert parameter("/products", "is_archived")["schema"]["type"] == "boolean"
    assert parameter("/users", "role")["schema"]["$ref"] == "#/components/schemas/Role"
    assert parameter("/stock/movements", "kind")["schema"]["$ref"].endswith("/MovementKind")
    assert parameter("/products", "q")["schema"]["maxLength"] == 200
    key = parameter("/stock/movements", "Idempotency-Key", "post")
    assert key["in"] == "header"
    assert key["required"] is False
    assert key["schema"]["type"] == "string"
    assert key["schema"]["pattern"]
    assert parameter("/stock/events", "Last-Event-ID")["schema"]["maxLength"] == 64
    cursor = parameter("/products", "cursor")
    assert cursor["schema"]["type"] == "string"
    assert "anyOf" not in cursor["schema"]
    assert cursor["description"] == "next_cursor of the previous page"


def test_the_token_form_admits_no_null(document: Document) -> None:
    form = document["components"]["schemas"]["TokenRequest"]
    for name, schema in form["properties"].items():
        assert not admits_null(document, schema), name
    assert "required" not in form  # a missing field is an RFC 6749 invalid_request


# 3. Response headers


def test_every_response_carries_the_request_id(document: Document) -> None:
    assert document["components"]["headers"]["X-Request-ID"]["required"] is True
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status == "431":  # refused by the HTTP layer, unread: see the test below
                continue
            header = response["headers"]["X-Request-ID"]
            assert header == {"$ref": "#/components/headers/X-Request-ID"}, (method, path, status)


def test_headers_too_large_is_documented_as_the_http_layer_sends_it(document: Document) -> None:
    """431 comes before the service reads the request: a bare problem, no request id. It is
    one named component, so a generated client has one model for it, not one per operation."""
    ref = "#/components/schemas/RefusedProblem"
    refs = set()
    for _, _, operation in operations(document):
        refused = operation["responses"]["431"]
        assert refused["headers"] == {}
        refs.add(refused["content"]["application/problem+json"]["schema"]["$ref"])
    assert refs == {ref}
    schema = resolve(document, ref)
    assert schema["required"] == ["type", "title", "status", "detail"]
    assert "request_id" not in schema["properties"]
    inline = [
        node for node in walk(document["paths"]) if node.get("required") == schema["required"]
    ]
    assert inline == []


def test_every_created_response_has_a_location(document: Document) -> None:
    created = [
        (m, p, o["responses"]["201"])
        for m, p, o in operations(document)
        if "201" in o["responses"] and o["operationId"] != "createStreamTicket"
    ]
    assert len(created) >= 6
    for method, path, response in created:
        assert headers_of(document, response)["Location"]["required"] is True, (method, path)


def test_a_stream_ticket_claims_no_location(document: Document) -> None:
    """A ticket is no resource one can GET: its 201 documents no Location."""
    created = document["paths"][f"{API_V1}/auth/stream-tickets"]["post"]["responses"]["201"]
    headers = headers_of(document, created)
    assert "Location" not in headers
    assert headers["X-Request-ID"]["required"] is True


@pytest.mark.parametrize("item", ["products", "locations"])
def test_catalog_responses_carry_the_etag(document: Document, item: str) -> None:
    collection = document["paths"][f"{API_V1}/{item}"]
    one = document["paths"][f"{API_V1}/{item}/{{{item[:-1]}_id}}"]
    for response in (
        collection["post"]["responses"]["201"],
        one["get"]["responses"]["200"],
        one["get"]["responses"]["304"],
        one["patch"]["responses"]["200"],
    ):
        assert headers_of(document, response)["ETag"]["required"] is True
    assert "ETag" not in collection["get"]["responses"]["200"]["headers"]
    assert "ETag" not in one["delete"]["responses"]["204"]["headers"]


def test_idempotent_postings_document_replays_and_in_flight_retries(document: Document) -> None:
    idempotent = [
        (path, operation)
        for _, path, operation in operations(document)
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    ]
    # movements, transfers, counts, batches; a reservation, its fulfilment and its release
    # (200); a shipment, its receipts and its cancellation (200); an allocation, its
    # fulfilment, release and extension (200).
    assert len(idempotent) == 14
    for path, operation in idempotent:
        responses = operation["responses"]
        success = responses.get("201") or responses["200"]
        replayed = headers_of(document, success)["Idempotent-Replayed"]
        assert replayed["required"] is False, path
        assert replayed["schema"]["enum"] == ["true"], path
        assert headers_of(document, responses["409"])["Retry-After"]["required"] is False
    others = [o for _, p, o in operations(document) if p not in dict(idempotent)]
    for operation in others:
        for response in operation["responses"].values():
            assert "Idempotent-Replayed" not in response["headers"]


def test_rate_limit_headers_on_versioned_operations_only(document: Document) -> None:
    names = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            headers = headers_of(document, response)
            if status == "431":
                assert headers == {}
                continue
            for name in names:
                if path.startswith(API_V1):
                    # Not sent while the counter storage is unreachable: never required.
                    assert headers[name]["required"] is False, (method, path, status)
                    assert headers[name]["schema"]["type"] == "integer"
                else:
                    assert name not in headers, (method, path, status)


def test_retry_after_and_www_authenticate(document: Document) -> None:
    seen = {"429": 0, "503": 0, "401": 0}
    for _, _, operation in operations(document):
        for status, response in operation["responses"].items():
            headers = headers_of(document, response)
            if status == "429":
                assert headers["Retry-After"]["required"] is True
            elif status == "503":
                assert headers["Retry-After"]["required"] is False
            elif status == "401":
                assert headers["WWW-Authenticate"]["required"] is True
            elif status != "409":
                assert "Retry-After" not in headers
            if status != "401":
                assert "WWW-Authenticate" not in headers
            seen[status] = seen.get(status, 0) + 1
    assert all(seen[status] > 5 for status in ("429", "503", "401"))


def test_header_components_are_whole(document: Document) -> None:
    headers = document["components"]["headers"]
    for name, header in headers.items():
        assert header["description"], name
        assert header["schema"]["type"] in ("string", "integer"), name
        assert isinstance(header["required"], bool), name


# 4. Problem members


def test_problem_documents_every_extension_member(document: Document) -> None:
    problem = document["components"]["schemas"]["Problem"]
    members = problem["properties"]
    for name in ("errors", "available", "on_hand", "current_etag", "checks", "field"):
        assert name in members, name
        assert name not in problem["required"]
        assert "description" in members[name], name
        assert not admits_null(document, members[name]), name
    assert members["available"]["type"] == "integer"
    assert members["on_hand"]["type"] == "integer"
    assert members["current_etag"]["type"] == "string"
    assert problem.get("additionalProperties", True) is not False


# 5. The event stream


def _event_frame(document: Document, path: str, frame: str) -> Any:
    """The schema of a stream's `data` frames, after checking the 200 is an event stream."""
    response = document["paths"][f"{API_V1}{path}"]["get"]["responses"]["200"]
    assert set(response["content"]) == {"text/event-stream"}
    media = response["content"]["text/event-stream"]
    assert media["schema"]["type"] == "string"
    assert media["x-event-data"] == {"$ref": f"#/components/schemas/{frame}"}
    return resolve(document, media["x-event-data"]["$ref"])


def test_the_event_frame_is_documented(document: Document) -> None:
    event = _event_frame(document, "/stock/events", "MovementEvent")
    assert event["properties"]["event"]["const"] == "movement"
    assert event["properties"]["id"]["format"] == "uuid"
    assert event["properties"]["data"]["$ref"] == "#/components/schemas/MovementRead"
    assert set(event["required"]) == {"id", "event", "data"}


def test_the_feed_stream_frame_is_documented(document: Document) -> None:
    event = _event_frame(document, "/events/stream", "FeedEvent")
    assert event["properties"]["event"]["type"] == "string"
    assert event["properties"]["data"]["$ref"] == "#/components/schemas/EventRead"
    assert set(event["required"]) == {"id", "event", "data"}
    parameters = document["paths"][f"{API_V1}/events/stream"]["get"]["parameters"]
    assert {(p["in"], p["name"]) for p in parameters} == {
        ("query", "types"),
        ("query", "after"),
        ("query", "ticket"),
        ("header", "Last-Event-ID"),
    }


def test_problem_members_are_sent_without_nulls() -> None:
    problem = Problem(
        type="/problems/service-unavailable",
        title="Service unavailable",
        status=503,
        detail="Not ready: database unreachable",
        instance="/api/health/ready",
        request_id="r",
        checks={"database": {"status": "down", "latency_ms": None, "detail": "down"}},
        surprise=1,  # RFC 9457 allows members the schema does not list
    )
    body = problem.to_body()
    assert body["checks"] == {"database": {"status": "down", "detail": "down"}}
    assert body["surprise"] == 1
    assert not {"errors", "available", "on_hand", "current_etag", "field"} & set(body)
    with pytest.raises(ValidationError):
        Problem.model_validate({**body, "available": "three"})


def test_every_operation_documents_the_400_of_too_many_query_parameters(
    document: Document,
) -> None:
    for method, path, operation in operations(document):
        if operation["operationId"] == "issueToken":  # its 400s are RFC 6749 errors
            continue
        refused = operation["responses"]["400"]
        assert "query parameters" in refused["description"], (method, path)
        schema = refused["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)
