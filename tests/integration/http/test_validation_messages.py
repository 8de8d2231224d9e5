"""A 422 says the rule a field breaks as a sentence, never as the regex behind it, while the
published JSON Schema keeps the pattern for generators and fuzzers."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from src.schemas.base import NO_NUL_PATTERN, NOT_BLANK_PATTERN
from src.schemas.catalog import CODE_PATTERN
from tests.support.factories import Headers
from tests.support.stock import new_location

CODE_RULE = (
    "must be 1 to 64 characters, each a letter (A-Z, a-z), a digit, '.', '_' or '-'; "
    "spaces around it are ignored"
)
BLANK_RULE = "must not be blank (only whitespace) and must not contain NUL characters"
REGEX_MARKS = re.compile(r"\\u|\^|\$|\[|\{\d")


def only_issue(response: httpx.Response, loc: list[str]) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    [issue] = body["errors"]
    assert issue["loc"] == loc
    assert not REGEX_MARKS.search(issue["msg"]), issue["msg"]
    assert "should match" not in response.text
    result: dict[str, Any] = issue
    return result


@pytest.mark.parametrize("sku", ["has space", "", "x" * 65, "semi;colon", "ünï"])
async def test_a_bad_sku_is_explained_in_a_sentence(
    client: httpx.AsyncClient, manager_headers: Headers, sku: str
) -> None:
    response = await client.post(
        "/api/v1/products", json={"sku": sku, "name": "Bolt"}, headers=manager_headers
    )
    issue = only_issue(response, ["body", "sku"])
    assert issue["msg"] == CODE_RULE
    assert issue["type"] == "string_pattern_mismatch"
    listed = await client.get("/api/v1/products", headers=manager_headers)
    assert listed.json()["items"] == []


async def test_a_bad_location_code_in_a_patch_is_explained_and_changes_nothing(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    path = f"/api/v1/locations/{location['id']}"
    response = await client.patch(
        path, json={"code": "no spaces please"}, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert only_issue(response, ["body", "code"])["msg"] == CODE_RULE
    assert (await client.get(path, headers=manager_headers)).json() == location


async def test_a_blank_name_is_explained(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    response = await client.post(
        "/api/v1/locations", json={"code": "OK-1", "name": " \t "}, headers=manager_headers
    )
    assert only_issue(response, ["body", "name"])["msg"] == BLANK_RULE
    listed = await client.get("/api/v1/locations", headers=manager_headers)
    assert listed.json()["items"] == []


async def test_query_and_header_patterns_are_explained_too(
    client: httpx.AsyncClient, manager_headers: Headers, admin_headers: Headers
) -> None:
    sku = await client.get("/api/v1/products", params={"sku": "a b"}, headers=manager_headers)
    assert only_issue(sku, ["query", "sku"])["msg"] == CODE_RULE
    search = await client.get("/api/v1/users", params={"q": "a\x00b"}, headers=admin_headers)
    assert only_issue(search, ["query", "q"])["msg"] == "must not contain NUL characters"
    key = await client.post(
        "/api/v1/stock/movements",
        json={},
        headers={**manager_headers, "Idempotency-Key": "k" * 256},
    )
    assert key.status_code == 422
    [issue] = [e for e in key.json()["errors"] if e["loc"] == ["header", "Idempotency-Key"]]
    assert issue["msg"] == "must be 1 to 255 printable ASCII characters"


async def test_the_published_schema_still_carries_the_patterns(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]

    def pattern(schema: str, field: str) -> str:
        prop = next(s for name, s in schemas.items() if name.startswith(schema))["properties"]
        found: str = prop[field].get("pattern") or prop[field]["anyOf"][0]["pattern"]
        return found

    assert pattern("ProductCreate", "sku") == CODE_PATTERN
    assert pattern("LocationUpdate", "code") == CODE_PATTERN
    assert pattern("LocationCreate", "name") == NOT_BLANK_PATTERN
    assert pattern("ProductCreate", "description") == NO_NUL_PATTERN
