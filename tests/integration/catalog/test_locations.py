"""/locations: CRUD with ETag/If-Match, archive rules, roles and paging."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, post_movement, receive

URL = "/api/v1/locations"


async def test_create_location(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    response = await client.post(
        URL, json={"code": " WH-1.A_2 ", "name": " Main warehouse "}, headers=manager_headers
    )
    assert response.status_code == 201
    location = response.json()
    assert response.headers["location"] == f"{URL}/{location['id']}"
    assert response.headers["etag"] == '"v1"'
    assert (location["code"], location["name"]) == ("WH-1.A_2", "Main warehouse")
    assert (location["is_archived"], location["is_transit"]) == (False, False)
    assert uuid.UUID(location["id"]).version == 7
    assert set(location) == {
        "id",
        "code",
        "name",
        "is_archived",
        "is_transit",
        "version",
        "created_at",
        "updated_at",
    }


async def test_admin_may_create_too(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    location = await new_location(client, admin_headers)
    assert location["code"].startswith("LOC-")


@pytest.mark.parametrize(
    "bad",
    [
        {"code": "has space"},
        {"code": ""},
        {"code": "   "},
        {"code": "x" * 65},
        {"code": "a/b"},
        {"code": "ÄRGER"},
        {"code": 7},
        {"code": None},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": None},
        {"is_archived": True},
        {"version": 7},
        {"id": str(uuid.uuid4())},
        {"created_at": "2026-01-01T00:00:00Z"},
    ],
)
async def test_create_rejects_bad_input(
    client: httpx.AsyncClient, manager_headers: Headers, bad: dict[str, object]
) -> None:
    body = {"code": f"L-{uuid.uuid4().hex[:6]}", "name": "N", **bad}
    response = await client.post(URL, json=body, headers=manager_headers)
    assert response.status_code == 422, bad
    assert response.json()["type"] == "/problems/validation-error"
    assert response.json()["errors"]


@pytest.mark.parametrize("body", [{"code": "ONLY-CODE"}, {"name": "Only name"}, {}, []])
async def test_create_needs_code_and_name(
    client: httpx.AsyncClient, manager_headers: Headers, body: object
) -> None:
    response = await client.post(URL, json=body, headers=manager_headers)
    assert response.status_code == 422
    listed = await client.get(URL, headers=manager_headers)
    assert listed.json()["items"] == []


async def test_code_is_unique_case_insensitively(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    first = await new_location(client, manager_headers, code="Dock-1")
    for code in ["dock-1", "DOCK-1", " Dock-1 "]:
        response = await client.post(URL, json={"code": code, "name": "x"}, headers=manager_headers)
        assert response.status_code == 409, code
        assert response.json()["type"] == "/problems/duplicate"
        assert response.json()["field"] == "code"
    listed = (await client.get(URL, headers=manager_headers)).json()["items"]
    assert [loc["id"] for loc in listed] == [first["id"]]


async def test_read_location_with_etag(
    client: httpx.AsyncClient, manager_headers: Headers, viewer_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    response = await client.get(f"{URL}/{location['id']}", headers=viewer_headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"v1"'
    assert response.json() == location


async def test_read_unknown_or_bad_id(client: httpx.AsyncClient, viewer_headers: Headers) -> None:
    missing = await client.get(f"{URL}/{uuid.uuid4()}", headers=viewer_headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"
    assert (await client.get(f"{URL}/nope", headers=viewer_headers)).status_code == 422
    anonymous = await client.get(f"{URL}/{uuid.uuid4()}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert (await client.get(URL)).status_code == 401


async def test_viewer_reads_but_clerk_and_viewer_cannot_write(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    viewer_headers: Headers,
) -> None:
    location = await new_location(client, manager_headers)
    listed = await client.get(URL, headers=viewer_headers)
    assert listed.status_code == 200
    assert [loc["id"] for loc in listed.json()["items"]] == [location["id"]]
    assert (await client.post(URL, json={"code": "A", "name": "B"})).status_code == 401
    for headers in (clerk_headers, viewer_headers):
        created = await client.post(URL, json={"code": "A", "name": "B"}, headers=headers)
        assert created.status_code == 403
        assert created.json()["type"] == "/problems/forbidden"
        patch = await client.patch(
            f"{URL}/{location['id']}", json={"name": "x"}, headers={**headers, "If-Match": '"v1"'}
        )
        assert patch.status_code == 403
        deleted = await client.delete(f"{URL}/{location['id']}", headers=headers)
        assert deleted.status_code == 403
    after = await client.get(f"{URL}/{location['id']}", headers=viewer_headers)
    assert after.json() == location
    assert after.headers["etag"] == '"v1"'


async def test_list_pages_never_skip_or_repeat(
    client: httpx.AsyncClient, manager_headers: Headers, viewer_headers: Headers
) -> None:
    made = [await new_location(client, manager_headers) for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get(URL, params=params, headers=viewer_headers)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [loc["id"] for loc in page["items"]]
        if len(seen) == 2:  # a row inserted between page fetches does not disturb paging
            made.append(await new_location(client, manager_headers))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [loc["id"] for loc in made]
    assert len(set(seen)) == len(seen)


async def test_list_default_page_and_exact_fit(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    made = [await new_location(client, manager_headers) for _ in range(3)]
    whole = (await client.get(URL, headers=manager_headers)).json()
    assert [loc["id"] for loc in whole["items"]] == [loc["id"] for loc in made]
    assert whole["next_cursor"] is None
    assert whole["items"][0] == made[0]
    fit = (await client.get(URL, params={"limit": 3}, headers=manager_headers)).json()
    assert len(fit["items"]) == 3
    assert fit["next_cursor"] is None


async def test_list_filters_by_is_archived(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    kept = await new_location(client, manager_headers)
    gone = await new_location(client, manager_headers)
    assert (await client.delete(f"{URL}/{gone['id']}", headers=manager_headers)).status_code == 204

    async def ids(**params: str) -> list[str]:
        response = await client.get(URL, params=params, headers=manager_headers)
        assert response.status_code == 200
        return [loc["id"] for loc in response.json()["items"]]

    assert await ids() == [kept["id"], gone["id"]]
    assert await ids(is_archived="true") == [gone["id"]]
    assert await ids(is_archived="false") == [kept["id"]]
    bad = await client.get(URL, params={"is_archived": "maybe"}, headers=manager_headers)
    assert bad.status_code == 422


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x"])
async def test_list_limit_bounds(
    client: httpx.AsyncClient, viewer_headers: Headers, limit: str
) -> None:
    response = await client.get(URL, params={"limit": limit}, headers=viewer_headers)
    assert response.status_code == 422


async def test_list_rejects_foreign_or_tampered_cursor(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    for _ in range(2):
        await new_location(client, manager_headers)
        await new_product(client, manager_headers)
    page = (await client.get(URL, params={"limit": 1}, headers=manager_headers)).json()
    cursor = page["next_cursor"]
    assert cursor
    products = await client.get("/api/v1/products", params={"limit": 1}, headers=manager_headers)
    foreign = products.json()["next_cursor"]
    assert foreign
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for bad in [tampered, foreign, "not-a-cursor", "eyJ2IjpbXX0", cursor + "x"]:
        response = await client.get(URL, params={"cursor": bad}, headers=manager_headers)
        assert response.status_code == 400, bad
        assert response.json()["type"] == "/problems/malformed-request"
    good = await client.get(URL, params={"cursor": cursor}, headers=manager_headers)
    assert good.status_code == 200


async def test_patch_needs_if_match(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    location = await new_location(client, manager_headers)
    path = f"{URL}/{location['id']}"
    missing = await client.patch(path, json={"name": "New"}, headers=manager_headers)
    assert missing.status_code == 428
    assert missing.json()["type"] == "/problems/precondition-required"

    ok = await client.patch(
        path, json={"name": "New", "code": "NEW-1"}, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"v2"'
    assert (ok.json()["name"], ok.json()["code"]) == ("New", "NEW-1")

    stale = await client.patch(
        path, json={"name": "Newer"}, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/precondition-failed"
    read = await client.get(path, headers=manager_headers)
    assert read.json()["name"] == "New"
    assert read.headers["etag"] == '"v2"'


async def test_patch_with_star_list_and_garbage_if_match(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    path = f"{URL}/{location['id']}"
    star = await client.patch(
        path, json={"name": "A"}, headers={**manager_headers, "If-Match": "*"}
    )
    assert star.headers["etag"] == '"v2"'
    listed = await client.patch(
        path, json={"name": "B"}, headers={**manager_headers, "If-Match": '"v9", "v2"'}
    )
    assert listed.headers["etag"] == '"v3"'
    for garbage in ['W/"v3"', "W/whatever", '"v3', "v3", '"V3"']:
        response = await client.patch(
            path, json={"name": "C"}, headers={**manager_headers, "If-Match": garbage}
        )
        assert response.status_code == 412, garbage


@pytest.mark.parametrize(
    "bad",
    [
        {"code": None},
        {"name": None},
        {"code": "a b"},
        {"code": ""},
        {"name": "  "},
        {"is_archived": True},
        {"id": "x"},
        {"version": 3},
    ],
)
async def test_patch_rejects_bad_input(
    client: httpx.AsyncClient, manager_headers: Headers, bad: dict[str, object]
) -> None:
    location = await new_location(client, manager_headers)
    response = await client.patch(
        f"{URL}/{location['id']}", json=bad, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert response.status_code == 422, bad
    assert response.json()["type"] == "/problems/validation-error"
    read = await client.get(f"{URL}/{location['id']}", headers=manager_headers)
    assert read.json() == location


async def test_patch_keeps_version_when_unchanged_and_may_recase_own_code(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    location = await new_location(client, manager_headers, code="Shelf-9", name="Shelf")
    path = f"{URL}/{location['id']}"
    same = await client.patch(
        path, json={"name": " Shelf "}, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert same.status_code == 200
    assert same.headers["etag"] == '"v1"'
    empty = await client.patch(path, json={}, headers={**manager_headers, "If-Match": '"v1"'})
    assert empty.headers["etag"] == '"v1"'
    recased = await client.patch(
        path, json={"code": "SHELF-9"}, headers={**manager_headers, "If-Match": '"v1"'}
    )
    assert recased.status_code == 200
    assert recased.json()["code"] == "SHELF-9"
    assert recased.headers["etag"] == '"v2"'


async def test_patch_to_taken_code_is_409_and_changes_nothing(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    await new_location(client, manager_headers, code="TAKEN-1")
    location = await new_location(client, manager_headers)
    path = f"{URL}/{location['id']}"
    response = await client.patch(
        path,
        json={"code": "taken-1", "name": "Renamed"},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/duplicate"
    read = await client.get(path, headers=manager_headers)
    assert read.json() == location
    assert read.headers["etag"] == '"v1"'


async def test_patch_unknown_or_bad_id(client: httpx.AsyncClient, manager_headers: Headers) -> None:
    headers = {**manager_headers, "If-Match": '"v1"'}
    response = await client.patch(f"{URL}/{uuid.uuid4()}", json={"name": "x"}, headers=headers)
    assert response.status_code == 404
    bad_id = await client.patch(f"{URL}/nope", json={"name": "x"}, headers=headers)
    assert bad_id.status_code == 422


async def test_archive_refused_while_stock_is_held(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    product = await new_product(client, manager_headers)
    await receive(client, clerk_headers, product, location, 5)
    response = await client.delete(f"{URL}/{location['id']}", headers=manager_headers)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"
    assert response.json()["on_hand"] == 5
    read = await client.get(f"{URL}/{location['id']}", headers=manager_headers)
    assert read.json()["is_archived"] is False
    assert read.headers["etag"] == '"v1"'

    issued = await post_movement(client, clerk_headers, product, location, "issue", 5)
    assert issued.status_code == 201
    emptied = await client.delete(f"{URL}/{location['id']}", headers=manager_headers)
    assert emptied.status_code == 204


async def test_archive_is_idempotent_and_then_no_movements(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    location = await new_location(client, manager_headers)
    product = await new_product(client, manager_headers)
    first = await client.delete(f"{URL}/{location['id']}", headers=manager_headers)
    assert first.status_code == 204
    assert first.content == b""
    again = await client.delete(f"{URL}/{location['id']}", headers=manager_headers)
    assert again.status_code == 204
    read = await client.get(f"{URL}/{location['id']}", headers=manager_headers)
    assert read.json()["is_archived"] is True
    assert read.headers["etag"] == '"v2"'
    response = await post_movement(client, clerk_headers, product, location, "receipt", 1)
    assert response.status_code == 409
    assert "archived" in response.json()["detail"]


async def test_archive_unknown_or_bad_id(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    missing = await client.delete(f"{URL}/{uuid.uuid4()}", headers=manager_headers)
    assert missing.status_code == 404
    assert (await client.delete(f"{URL}/nope", headers=manager_headers)).status_code == 422
    assert (await client.delete(f"{URL}/{uuid.uuid4()}")).status_code == 401
