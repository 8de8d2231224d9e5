"""Every operation declares the one scope it needs, or says it is public on purpose.

The OpenAPI document is walked (an operation with neither fails: someone forgot), each scope
named is one of this API's, and the whole map operationId → (method, path, scope) is pinned
(tests/support/scopes.py, which the behaviour tests walk too), so that a change to what an
operation needs is deliberate. The routes themselves are walked as well: each versioned route
has exactly one guard (`Require(...)`, a `Can…` alias, `CurrentUser`, `EventsGrant` or a
stream's caller), declared with the scope the guard checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from src.api.deps import GUARD_SCOPES, SCHEME_NAME
from src.api.streams import STREAM_SCOPE, stream_access
from src.config import load_settings
from src.core.scopes import CLIENT_SCOPES, ROLE_SCOPES, SCOPE_DESCRIPTIONS, Scope
from src.main import create_app
from tests.support.scopes import LEAST_ROLE, OPERATIONS, PUBLIC

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
GUARDS = {**GUARD_SCOPES, stream_access: STREAM_SCOPE}
# What each operation needs, pinned in tests/support/scopes.py (the behaviour tests walk it).
EXPECTED = {name: scope for name, (_, _, scope) in OPERATIONS.items()}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(load_settings(secret_key="scopes-" + "k" * 40 + "0123456789abcdef"))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def declared(operation: dict[str, Any]) -> str | None:
    """The operation's scope, PUBLIC, or None when it says neither."""
    if "security" not in operation:
        return None
    security = operation["security"]
    if security == []:
        return PUBLIC
    assert len(security) == 1, security
    ((scheme, scopes),) = security[0].items()
    assert scheme == SCHEME_NAME
    assert len(scopes) == 1, f"exactly one scope per operation, not {scopes}"
    return str(scopes[0])


def test_every_operation_declares_a_scope_or_is_public_on_purpose(
    document: dict[str, Any],
) -> None:
    forgotten = [name for name, operation in operations(document) if declared(operation) is None]
    assert not forgotten, f"no scope declared and not marked public (PUBLIC): {forgotten}"


def test_every_declared_scope_is_a_scope_of_this_api(document: dict[str, Any]) -> None:
    known = {scope.value for scope in Scope}
    for name, operation in operations(document):
        scope = declared(operation)
        assert scope == PUBLIC or scope in known, (name, scope)


def test_the_map_of_operations_to_scopes_is_pinned(document: dict[str, Any]) -> None:
    found = {
        op["operationId"]: (*name.split(" ", 1), declared(op)) for name, op in operations(document)
    }
    assert found == OPERATIONS


def test_the_scheme_offers_both_flows_and_describes_every_scope(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"][SCHEME_NAME]
    assert scheme["type"] == "oauth2"
    password, systems = scheme["flows"]["password"], scheme["flows"]["clientCredentials"]
    assert password["tokenUrl"] == systems["tokenUrl"] == "/api/v1/auth/token"
    # Every scope an operation names is listed where people log in; clients see theirs only.
    assert set(password["scopes"]) == {s.value for s in Scope}
    assert set(systems["scopes"]) == {s.value for s in CLIENT_SCOPES}
    for scope, description in password["scopes"].items():
        assert description == SCOPE_DESCRIPTIONS[Scope(scope)]
        assert description
        assert "\n" not in description


def test_roles_let_through_exactly_whom_v1_let_through() -> None:
    order = ["viewer", "clerk", "manager", "admin"]
    for scope, least in LEAST_ROLE.items():
        holders = [role for role in order if Scope(scope) in ROLE_SCOPES[role]]
        assert holders == order[order.index(least) :], scope
    assert set(LEAST_ROLE) == {scope.value for scope in Scope}


def routes(app: FastAPI) -> Iterator[APIRoute]:
    pending = list(app.router.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            pending.extend(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def guards(dependant: Dependant) -> Iterator[tuple[Dependant, list[str]]]:
    """Every dependency of the tree declared with scopes, and the scopes it declares."""
    for dependency in dependant.dependencies:
        if dependency.own_oauth_scopes:
            yield dependency, dependency.own_oauth_scopes
        yield from guards(dependency)


def test_every_versioned_route_has_exactly_one_guard_declared_with_its_scope(
    app: FastAPI,
) -> None:
    checked = 0
    for route in routes(app):
        if not route.path.startswith("/api/v1"):
            continue
        found = {(dependency.call, tuple(scopes)) for dependency, scopes in guards(route.dependant)}
        name = f"{sorted(route.methods)} {route.path}"
        if EXPECTED.get(str(route.operation_id)) == PUBLIC:
            assert not found, f"{name} is public but declares {found}"
            continue
        assert len(found) == 1, f"{name}: exactly one guard, not {found}"
        ((call, scopes),) = found
        assert call in GUARDS, f"{name}: {call} declares scopes but is no guard"
        # The scope declared (what OpenAPI shows) is the scope the guard checks.
        assert scopes == (GUARDS[call].value,), name
        assert scopes == (EXPECTED[str(route.operation_id)],), name
        checked += 1
    assert checked == len([s for s in EXPECTED.values() if s != PUBLIC])


def test_each_endpoint_section_of_the_api_docs_names_its_scope() -> None:
    """The first paragraph under each endpoint's heading in docs/API.md says what it needs."""
    heading = re.compile(r"^###\s+`([A-Z]+) (/[^`\s?]*)`\s*$")
    lines = (ROOT / "docs" / "API.md").read_text(encoding="utf-8").splitlines()
    stated: dict[tuple[str, str], str] = {}
    for number, line in enumerate(lines):
        if found := heading.match(line):
            stated[(found[1], found[2])] = lines[number + 2]
    expected = {
        (method, path): "Public: no token needed." if scope == PUBLIC else f"Scope: `{scope}`."
        for method, path, scope in OPERATIONS.values()
    }
    assert stated == expected
