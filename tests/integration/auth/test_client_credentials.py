"""The client credentials grant (RFC 6749 §4.4) on the token endpoint: HTTP Basic or form
credentials, `scope` narrowing, the standard errors, no refresh token; and what a client's
token can do afterwards (and stops doing when the client is revoked or changed)."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.clients import CLIENTS, TOKEN, basic, client_credentials, created_client
from tests.support.factories import Headers

FORM = {"grant_type": "client_credentials"}


def bearer(body: dict[str, Any]) -> Headers:
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_basic_credentials_get_a_token_without_a_refresh_token(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers, scopes=["catalog:read", "stock:read"])
    response = await client_credentials(client, shop)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["scope"] == "catalog:read stock:read"
    assert body["expires_in"] > 0
    assert response.headers["cache-control"] == "no-store"
    products = await client.get("/api/v1/products", headers=bearer(body))
    assert products.status_code == 200
    refused = await client.post(
        "/api/v1/products", json={"sku": "A-1", "name": "A"}, headers=bearer(body)
    )
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "catalog:write"


async def test_form_credentials_get_a_token_too(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers, scopes=["stock:read"])
    response = await client.post(
        TOKEN,
        data={**FORM, "client_id": shop["client_id"], "client_secret": shop["client_secret"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "stock:read"
    levels = await client.get("/api/v1/stock/levels", headers=bearer(response.json()))
    assert levels.status_code == 200


async def test_scope_narrows_the_token(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    shop = await created_client(client, admin_headers, scopes=["catalog:read", "stock:read"])
    response = await client_credentials(client, shop, scope="stock:read")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "stock:read"
    headers = bearer(response.json())
    assert (await client.get("/api/v1/stock/levels", headers=headers)).status_code == 200
    narrowed = await client.get("/api/v1/products", headers=headers)
    assert narrowed.status_code == 403
    assert narrowed.json()["type"].endswith("/problems/insufficient-scope")


@pytest.mark.parametrize(
    "scope", ["stock:write", "catalog:read stock:write", "users:manage", "nope"]
)
async def test_a_scope_the_client_lacks_is_invalid_scope(
    client: httpx.AsyncClient, admin_headers: Headers, scope: str
) -> None:
    shop = await created_client(client, admin_headers, scopes=["catalog:read"])
    response = await client_credentials(client, shop, scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "access_token" not in response.json()


async def test_a_wrong_secret_is_invalid_client_with_the_basic_challenge(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    response = await client.post(
        TOKEN, data=FORM, headers=basic(shop["client_id"], shop["client_secret"] + "x")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"] == 'Basic realm="stockroom"'
    assert "access_token" not in response.json()


async def test_form_credentials_get_invalid_client_without_the_challenge(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    wrong = await client.post(
        TOKEN, data={**FORM, "client_id": shop["client_id"], "client_secret": "srs_wrong"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert "www-authenticate" not in wrong.headers
    unknown = await client.post(
        TOKEN, data={**FORM, "client_id": "sc_nobody", "client_secret": shop["client_secret"]}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_client"
    missing = await client.post(TOKEN, data={**FORM, "client_id": shop["client_id"]})
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_client"


async def test_credentials_both_ways_at_once_are_invalid_request(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    response = await client.post(
        TOKEN,
        data={**FORM, "client_id": shop["client_id"], "client_secret": shop["client_secret"]},
        headers=basic(shop["client_id"], shop["client_secret"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    other = await client.post(
        TOKEN,
        data={**FORM, "client_id": "sc_other"},
        headers=basic(shop["client_id"], shop["client_secret"]),
    )
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode()]
)
async def test_malformed_basic_credentials_are_invalid_client(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.post(TOKEN, data=FORM, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"] == 'Basic realm="stockroom"'


async def test_an_inactive_or_revoked_client_is_invalid_client(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    paused = await created_client(client, admin_headers, name="Paused")
    await client.patch(
        f"{CLIENTS}/{paused['id']}", json={"is_active": False}, headers=admin_headers
    )
    response = await client_credentials(client, paused)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    revoked = await created_client(client, admin_headers, name="Gone")
    await client.delete(f"{CLIENTS}/{revoked['id']}", headers=admin_headers)
    response = await client_credentials(client, revoked)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a_deleted_clients_token_is_401_on_the_very_next_request(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    headers = bearer((await client_credentials(client, shop)).json())
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 200
    assert (
        await client.delete(f"{CLIENTS}/{shop['id']}", headers=admin_headers)
    ).status_code == 204
    response = await client.get("/api/v1/products", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_removed_scope_ends_the_tokens_that_grant_it(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers, scopes=["catalog:read", "stock:read"])
    wide = bearer((await client_credentials(client, shop)).json())
    narrow = bearer((await client_credentials(client, shop, scope="catalog:read")).json())
    await client.patch(
        f"{CLIENTS}/{shop['id']}", json={"scopes": ["catalog:read"]}, headers=admin_headers
    )
    assert (await client.get("/api/v1/products", headers=wide)).status_code == 401
    assert (await client.get("/api/v1/products", headers=narrow)).status_code == 200


async def test_rotation_without_overlap_ends_the_old_secret_at_once(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    token = bearer((await client_credentials(client, shop)).json())
    rotated = await client.post(
        f"{CLIENTS}/{shop['id']}/rotate-secret",
        json={"previous_valid_for_seconds": 0},
        headers=admin_headers,
    )
    assert rotated.status_code == 200
    old = await client_credentials(client, shop)
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_client"
    new = await client_credentials(client, {**shop, **rotated.json()})
    assert new.status_code == 200
    # Rotation is no revocation: tokens issued before keep working.
    assert (await client.get("/api/v1/products", headers=token)).status_code == 200


async def test_rotation_with_overlap_keeps_the_old_secret_until_the_window_ends(
    client: httpx.AsyncClient, admin_headers: Headers, connection: AsyncConnection
) -> None:
    shop = await created_client(client, admin_headers)
    rotated = await client.post(
        f"{CLIENTS}/{shop['id']}/rotate-secret",
        json={"previous_valid_for_seconds": 600},
        headers=admin_headers,
    )
    new = {**shop, **rotated.json()}
    assert (await client_credentials(client, shop)).status_code == 200
    assert (await client_credentials(client, new)).status_code == 200
    # The window ends (moved into the past rather than waited for).
    await connection.execute(
        text(
            "UPDATE api_clients SET previous_valid_until = now() - interval '1 second'"
            " WHERE id = :id"
        ),
        {"id": shop["id"]},
    )
    assert (await client_credentials(client, shop)).status_code == 401
    assert (await client_credentials(client, new)).status_code == 200
    # A second rotation ends the first secret at once, whatever the window.
    again = await client.post(
        f"{CLIENTS}/{shop['id']}/rotate-secret",
        json={"previous_valid_for_seconds": 600},
        headers=admin_headers,
    )
    assert (await client_credentials(client, shop)).status_code == 401
    assert (await client_credentials(client, new)).status_code == 200
    assert (await client_credentials(client, {**shop, **again.json()})).status_code == 200


async def test_a_client_token_has_no_refresh_and_no_password_grant(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    response = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": "whatever"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    me = await client.get(
        "/api/v1/users/me", headers=bearer((await client_credentials(client, shop)).json())
    )
    assert me.status_code == 403


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_gets_a_token_and_calls_the_api(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, method: str
) -> None:
    shop = await created_client(client, admin_headers, scopes=["catalog:read", "stock:read"])
    url = "http://testserver/api/v1/auth/token"
    async with AsyncOAuth2Client(
        client_id=shop["client_id"],
        client_secret=shop["client_secret"],
        token_endpoint_auth_method=method,
        token_endpoint=url,
        grant_type="client_credentials",
        scope="catalog:read",
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
    ) as oauth:
        token = await oauth.fetch_token(url)
        assert token["token_type"] == "bearer"
        assert token["scope"] == "catalog:read"
        assert "refresh_token" not in token
        products = await oauth.get("/api/v1/products")
        assert products.status_code == 200, products.text
        levels = await oauth.get("/api/v1/stock/levels")
        assert levels.status_code == 403
        # Expired (as far as Authlib knows): it asks for a new token by itself.
        first = oauth.token["access_token"]
        oauth.token["expires_at"] = int(time.time()) - 60
        again = await oauth.get("/api/v1/products")
        assert again.status_code == 200
        assert oauth.token["access_token"] != first


async def test_authlib_sees_a_wrong_secret_as_invalid_client(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    from authlib.integrations.base_client.errors import OAuthError

    shop = await created_client(client, admin_headers)
    async with AsyncOAuth2Client(
        client_id=shop["client_id"],
        client_secret="srs_wrong",
        token_endpoint_auth_method="client_secret_basic",
        transport=httpx.ASGITransport(app=app),
    ) as oauth:
        with pytest.raises(OAuthError) as raised:
            await oauth.fetch_token(
                "http://testserver/api/v1/auth/token", grant_type="client_credentials"
            )
    assert raised.value.error == "invalid_client"


async def test_no_secret_or_token_reaches_the_log(
    client: httpx.AsyncClient, admin_headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    shop = await created_client(client, admin_headers)
    rotated = await client.post(
        f"{CLIENTS}/{shop['id']}/rotate-secret",
        json={"previous_valid_for_seconds": 60},
        headers=admin_headers,
    )
    token = (await client_credentials(client, {**shop, **rotated.json()})).json()
    await client.post(
        TOKEN, data={**FORM, "client_id": shop["client_id"], "client_secret": "srs_wrong-guess"}
    )
    logged = " ".join(str(record.msg) for record in caplog.records)
    assert "request" in logged  # the access log ran
    for secret in (shop["client_secret"], rotated.json()["client_secret"], "srs_wrong-guess"):
        assert secret not in logged
    assert token["access_token"] not in logged


async def test_a_deactivated_clients_token_is_401_until_it_is_active_again(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    shop = await created_client(client, admin_headers)
    headers = bearer((await client_credentials(client, shop)).json())
    url = f"{CLIENTS}/{shop['id']}"
    await client.patch(url, json={"is_active": False}, headers=admin_headers)
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 401
    await client.patch(url, json={"is_active": True}, headers=admin_headers)
    # As documented: an unexpired token works again (revocation is the way to end it).
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 200
    assert (await client_credentials(client, shop)).status_code == 200
