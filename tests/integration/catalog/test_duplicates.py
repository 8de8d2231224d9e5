"""A value that must be unique and is taken: /problems/duplicate for a SKU or a location code
(create, PATCH, and two creates racing), /problems/conflict for an email; each names its
field (`field`, and `errors` as a 422 has them) so a form can show it beside the input."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from src.models.user import Role
from tests.support.factories import Headers, MakeUser, login_headers, unique_email
from tests.support.stock import new_location, new_product

PROBLEM = "application/problem+json"
GOOD = "correct horse battery staple"


@dataclass(frozen=True)
class Kind:
    collection: str
    field: str  # the unique one
    named: str  # how the detail names it
    create: Callable[..., Awaitable[dict[str, Any]]]


KINDS = [
    Kind("products", "sku", "A product with SKU", new_product),
    Kind("locations", "code", "A location with code", new_location),
]


@pytest.fixture(params=KINDS, ids=lambda kind: kind.collection)
def kind(request: pytest.FixtureRequest) -> Kind:
    value: Kind = request.param
    return value


def _tag(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def assert_duplicate(response: httpx.Response, kind: Kind, sent: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == "/problems/duplicate"
    assert body["title"] == "Duplicate value"
    assert body["field"] == kind.field
    assert body["detail"].startswith(f"{kind.named} '{sent}' already exists")
    assert "ignoring case" in body["detail"]
    assert body["errors"] == [
        {"loc": ["body", kind.field], "msg": body["detail"], "type": "duplicate"}
    ]


async def _matching(
    client: httpx.AsyncClient, headers: Headers, kind: Kind, value: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/{kind.collection}", params={kind.field: value}, headers=headers
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_creating_a_taken_value_in_any_case_is_a_duplicate(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    kind: Kind,
) -> None:
    value = _tag("Dup")
    first = await kind.create(client, manager_headers, **{kind.field: value})
    for sent in (value.lower(), value.upper(), f"  {value}  "):
        response = await client.post(
            f"/api/v1/{kind.collection}",
            json={kind.field: sent, "name": "Second"},
            headers=manager_headers,
        )
        assert_duplicate(response, kind, sent.strip())
    assert await _matching(client, manager_headers, kind, value) == [first]


async def test_patching_to_a_taken_value_is_a_duplicate_and_changes_nothing(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    kind: Kind,
) -> None:
    taken = _tag("Taken")
    await kind.create(client, manager_headers, **{kind.field: taken})
    item = await kind.create(client, manager_headers)
    path = f"/api/v1/{kind.collection}/{item['id']}"
    response = await client.patch(
        path,
        json={kind.field: taken.lower(), "name": "Renamed"},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert_duplicate(response, kind, taken.lower())
    read = await client.get(path, headers=manager_headers)
    assert read.json() == item
    assert read.headers["etag"] == '"v1"'


async def test_recasing_its_own_value_is_no_duplicate(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    kind: Kind,
) -> None:
    value = _tag("Own")
    item = await kind.create(client, manager_headers, **{kind.field: value})
    response = await client.patch(
        f"/api/v1/{kind.collection}/{item['id']}",
        json={kind.field: value.lower()},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()[kind.field] == value.lower()
    assert response.headers["etag"] == '"v2"'


async def test_no_duplicate_is_reported_to_callers_who_may_not_write(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    kind: Kind,
) -> None:
    value = _tag("Hidden")
    first = await kind.create(client, manager_headers, **{kind.field: value})
    document = {kind.field: value, "name": "Again"}
    anonymous = await client.post(f"/api/v1/{kind.collection}", json=document)
    assert anonymous.status_code == 401
    clerk = await client.post(f"/api/v1/{kind.collection}", json=document, headers=clerk_headers)
    assert clerk.status_code == 403
    assert await _matching(client, manager_headers, kind, value) == [first]


async def test_two_racing_creates_of_one_value_make_one_record(
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    kind: Kind,
) -> None:
    manager = await login_headers(committed_client, await committed_make_user(role=Role.MANAGER))
    value = _tag("Race")
    responses = await asyncio.gather(
        *(
            committed_client.post(
                f"/api/v1/{kind.collection}",
                json={kind.field: sent, "name": "Racer"},
                headers=manager,
            )
            for sent in (value, value.lower())
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 1}
    [created] = [r.json() for r in responses if r.status_code == 201]
    [refused] = [r for r in responses if r.status_code == 409]
    assert_duplicate(refused, kind, json.loads(refused.request.content)[kind.field])
    assert await _matching(committed_client, manager, kind, value) == [created]


async def test_a_registered_email_stays_a_conflict_naming_its_field(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    email = unique_email("taken")
    document = {"email": email, "password": GOOD, "full_name": "Ann Example"}
    assert (await client.post("/api/v1/auth/register", json=document)).status_code == 201
    response = await client.post("/api/v1/auth/register", json={**document, "email": email.upper()})
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "/problems/conflict"
    assert body["field"] == "email"
    assert body["errors"] == [
        {"loc": ["body", "email"], "msg": body["detail"], "type": "duplicate"}
    ]
    assert email.split("@")[0] not in response.text.lower()  # personal data is not echoed
    listed = await client.get("/api/v1/users", params={"q": email}, headers=admin_headers)
    assert len(listed.json()["items"]) == 1


async def test_an_admin_creating_a_taken_email_gets_the_same_conflict(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    existing = await make_user(role=Role.CLERK)
    response = await client.post(
        "/api/v1/users",
        json={
            "email": existing.email.upper(),
            "password": GOOD,
            "full_name": "Twin",
            "role": "clerk",
        },
        headers=admin_headers,
    )
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "/problems/conflict"
    assert body["field"] == "email"
    assert body["errors"][0]["loc"] == ["body", "email"]
    listed = await client.get("/api/v1/users", params={"q": existing.email}, headers=admin_headers)
    assert [user["id"] for user in listed.json()["items"]] == [str(existing.id)]
