"""Edge input found in review: each is a clear 4xx problem, never a 500, and writes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, on_hand, post_movement, receive


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/api/v1/products", {"sku": "NUL-1", "name": "a\u0000b"}),
        ("POST", "/api/v1/locations", {"code": "NUL-1", "name": "a\u0000b"}),
        ("PATCH", "/api/v1/users/me", {"full_name": "a\u0000b"}),
    ],
)
async def test_nul_characters_in_bodies_are_422(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    method: str,
    url: str,
    body: dict[str, str],
) -> None:
    response = await client.request(method, url, json=body, headers=admin_headers)
    assert response.status_code == 422
    assert "NUL" in response.json()["errors"][0]["msg"]


@pytest.mark.parametrize("url", ["/api/v1/products", "/api/v1/users"])
async def test_nul_characters_in_queries_are_422(
    client: httpx.AsyncClient, admin_headers: Headers, url: str
) -> None:
    response = await client.get(url, params={"q": "a\u0000b"}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-error"


async def test_nul_in_the_token_form_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "a\u0000b@example.com", "password": "x"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "params",
    [{"since": "0001-01-01T00:00:00+14:00"}, {"until": "9999-12-31T23:59:59-14:00"}],
)
async def test_out_of_range_timestamps_are_422(
    client: httpx.AsyncClient, viewer_headers: Headers, params: dict[str, str]
) -> None:
    movements = await client.get("/api/v1/stock/movements", params=params, headers=viewer_headers)
    assert movements.status_code == 422
    levels = await client.get(
        "/api/v1/stock/levels",
        params={"as_of": next(iter(params.values()))},
        headers=viewer_headers,
    )
    assert levels.status_code == 422


async def test_a_body_without_content_type_is_400(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    response = await client.post(
        "/api/v1/products", content=b'{"sku": "X-1", "name": "X"}', headers=manager_headers
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/malformed-request"


@pytest.mark.parametrize("length", [1100, 5000])
async def test_long_foreign_cursors_are_400(
    client: httpx.AsyncClient, viewer_headers: Headers, length: int
) -> None:
    response = await client.get(
        "/api/v1/products", params={"cursor": "A" * length}, headers=viewer_headers
    )
    assert response.status_code == 400


@pytest.mark.parametrize("field", ["role", "is_active", "full_name"])
async def test_admin_patch_with_null_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, viewer: object, field: str
) -> None:
    response = await client.patch(
        f"/api/v1/users/{viewer.id}",
        json={field: None},  # type: ignore[attr-defined]
        headers=admin_headers,
    )
    assert response.status_code == 422


async def test_no_content_responses_have_no_body_type(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    response = await client.delete(f"/api/v1/products/{product['id']}", headers=manager_headers)
    assert response.status_code == 204
    assert "content-type" not in response.headers
    assert response.content == b""


async def test_a_level_cannot_exceed_the_bound(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, location, 10**12)
    response = await post_movement(client, clerk_headers, product, location, "receipt", 1)
    assert response.status_code == 409
    assert "1e12" in response.json()["detail"]
    assert await on_hand(client, clerk_headers, product, location) == 10**12


async def test_problem_titles_do_not_vary_by_source(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    routed = await client.get("/api/v1/nowhere")
    domain = await client.get(
        "/api/v1/products/0190a000-0000-7000-8000-000000000000", headers=viewer_headers
    )
    assert routed.json()["title"] == domain.json()["title"] == "Not found"
    validation = await client.get("/api/v1/products", params={"limit": 0}, headers=viewer_headers)
    assert validation.json()["title"] == "Validation error"


async def test_openapi_documents_body_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    post = spec["paths"]["/api/v1/products"]["post"]["responses"]
    assert {"400", "413", "422", "500"} <= set(post)
    token = spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "422" not in token


@pytest.fixture
def throttled_app(app: object, database_url: str, tmp_path: object) -> object:
    from src.dependencies import get_database
    from src.main import create_app
    from tests.support.settings import make_settings

    throttled = create_app(
        make_settings(database_url, tmp_path, login_rate_limit_per_client="2/minute")  # type: ignore[arg-type]
    )
    throttled.dependency_overrides[get_database] = app.dependency_overrides[get_database]  # type: ignore[attr-defined]
    return throttled


async def test_registration_is_throttled_per_client(throttled_app: object) -> None:
    from asgi_lifespan import LifespanManager

    from tests.support.factories import unique_email

    async with (
        LifespanManager(throttled_app),  # type: ignore[arg-type]
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=throttled_app),  # type: ignore[arg-type]
            base_url="http://t",
        ) as client,
    ):
        statuses = [
            (
                await client.post(
                    "/api/v1/auth/register",
                    json={
                        "email": unique_email(),
                        "password": "a good long passphrase",
                        "full_name": "R",
                    },
                )
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize("value", ["2024", "1700000000", "0.5", "yesterday"])
async def test_timestamps_must_be_rfc3339(
    client: httpx.AsyncClient, viewer_headers: Headers, value: str
) -> None:
    for url, name in [("/api/v1/stock/levels", "as_of"), ("/api/v1/stock/movements", "since")]:
        response = await client.get(url, params={name: value}, headers=viewer_headers)
        assert response.status_code == 422, (url, value)
        assert "RFC 3339" in response.json()["errors"][0]["msg"]


async def test_405_lists_every_allowed_method(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.put("/api/v1/locations", headers=viewer_headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    item = await client.put("/api/v1/products/0190a000-0000-7000-8000-000000000000")
    assert set(item.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}


async def test_prices_are_decimal_strings_read_with_two_places(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    assert (await new_product(client, manager_headers, unit_price="0"))["unit_price"] == "0.00"
    assert (await new_product(client, manager_headers, unit_price="7.5"))["unit_price"] == "7.50"
    # A JSON number would arrive as a binary float; "-0" and a third place are not prices.
    for bad in [7.5, "-0", "1.234", "", "12345678901"]:
        response = await client.post(
            "/api/v1/products",
            json={"sku": "PRICE-BAD", "name": "x", "unit_price": bad},
            headers=manager_headers,
        )
        assert response.status_code == 422, bad
        assert "decimal string" in response.json()["errors"][0]["msg"]
    listed = await client.get(
        "/api/v1/products", params={"q": "PRICE-BAD"}, headers=manager_headers
    )
    assert listed.json()["items"] == []


async def test_text_is_measured_as_sent_then_trimmed(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    trimmed = await new_product(client, manager_headers, name="  Widget  ", unit=" box ")
    assert (trimmed["name"], trimmed["unit"]) == ("Widget", "box")
    too_long = await client.post(
        "/api/v1/products", json={"sku": "LONG-1", "name": " " + "x" * 200}, headers=manager_headers
    )
    assert too_long.status_code == 422
    for blank in ["\x1c\x1f", "\u3000"]:
        response = await client.post(
            "/api/v1/locations", json={"code": "BLANK-1", "name": blank}, headers=manager_headers
        )
        assert response.status_code == 422, repr(blank)
    padded = await client.post(
        "/api/v1/locations", json={"code": "\tMAIN\n", "name": "Main"}, headers=manager_headers
    )
    assert padded.json()["code"] == "MAIN"


async def test_whole_numbers_may_be_written_with_a_fraction_of_zero(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers, reorder_point=4.0)
    assert product["reorder_point"] == 4
    for bad in [4.5, "4", True]:
        response = await client.post(
            "/api/v1/products",
            json={"sku": "WHOLE-BAD", "name": "x", "reorder_point": bad},
            headers=manager_headers,
        )
        assert response.status_code == 422, bad


async def test_openapi_requires_if_match_and_links_created_resources_to_updates(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    patch = spec["paths"]["/api/v1/products/{product_id}"]["patch"]
    if_match = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert if_match["required"] is True
    created = spec["paths"]["/api/v1/locations"]["post"]["responses"]["201"]
    update = created["links"]["Update"]
    assert update["parameters"]["header.If-Match"] == "$response.header.ETag"
    assert "ETag" in created["headers"]


async def test_openapi_lists_429_and_503_on_versioned_operations(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    for path, operations in spec["paths"].items():
        if path.startswith("/api/v1"):
            for operation in operations.values():
                assert {"429", "503"} <= set(operation["responses"]), path


@pytest.mark.parametrize(
    "if_match", ['"v\u00b2"', '"v' + "9" * 5000 + '"', '"v99999999999999999999"', 'W/"v1"', '"v1']
)
async def test_odd_if_match_values_are_412_never_500(
    client: httpx.AsyncClient, manager_headers: Headers, if_match: str
) -> None:
    product = await new_product(client, manager_headers)
    response = await client.patch(
        f"/api/v1/products/{product['id']}",
        json={"name": "Renamed"},
        headers={**manager_headers, "If-Match": if_match.encode("latin-1")},
    )
    assert response.status_code == 412
    unchanged = await client.get(f"/api/v1/products/{product['id']}", headers=manager_headers)
    assert unchanged.json()["name"] == product["name"]
