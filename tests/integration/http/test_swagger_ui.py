"""/docs: Swagger UI whose JS, CSS and favicon come from the service itself (no CDN), cacheable,
under a CSP of its own; the Authorize button still logs in through the token endpoint."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
from fastapi import FastAPI

from src.api.docs import ASSET_CACHE_CONTROL, ASSET_PATH
from src.models.user import Role
from tests.support.factories import DEFAULT_PASSWORD, MakeUser

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
ASSET_TYPES = {"text/javascript", "text/css", "image/png"}


async def test_docs_load_every_asset_from_the_service(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://", page.text)  # no CDN, no outside URL at all
    references = REFERENCE.findall(page.text)
    assert {ref.rsplit("/", 1)[-1] for ref in references} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon.png",
    }
    for reference in references:
        assert reference.startswith(f"{ASSET_PATH}/")
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.headers["content-type"].split(";")[0] in ASSET_TYPES
        assert len(asset.content) == int(asset.headers["content-length"]) > 1000
        assert asset.headers["cache-control"] == ASSET_CACHE_CONTROL
        assert asset.headers["x-content-type-options"] == "nosniff"
        again = await client.get(reference, headers={"If-None-Match": asset.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    bundle = await client.get(f"{ASSET_PATH}/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in bundle.content


async def test_the_docs_csp_allows_only_this_origin_and_the_inline_script(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    policy = page.headers["content-security-policy"]
    [script] = INLINE_SCRIPT.findall(page.text)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    assert "http" not in policy
    assert page.headers["x-frame-options"] == "DENY"


async def test_authorize_still_logs_in_through_the_token_endpoint(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert "url: '/api/v1/openapi.json'" in page.text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in page.text
    assert '"validatorUrl": null' in page.text
    document = (await client.get("/api/v1/openapi.json")).json()
    [scheme] = document["components"]["securitySchemes"].values()
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.text
    assert "sha256-" in redirect.headers["content-security-policy"]


async def test_unknown_or_outdated_assets_are_404_problems(client: httpx.AsyncClient) -> None:
    for path in (
        f"{ASSET_PATH}/redoc.standalone.js",  # shipped by the package, not served
        f"{ASSET_PATH}/..%2f__init__.py",
        "/docs/assets/0.0.1/swagger-ui.css",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/not-found"


async def test_docs_are_read_only_and_absent_from_the_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    posted = await client.post("/docs")
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET"
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]


async def test_behind_a_path_prefix_every_url_carries_it(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/stockroom")
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/stockroom/docs")
    assert page.status_code == 200
    assert "url: '/stockroom/api/v1/openapi.json'" in page.text
    assert all(ref.startswith(f"/stockroom{ASSET_PATH}/") for ref in REFERENCE.findall(page.text))


async def test_authorize_offers_both_flows_and_every_scope(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    [scheme] = document["components"]["securitySchemes"].values()
    flows = scheme["flows"]
    assert set(flows) == {"password", "clientCredentials"}
    assert flows["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"
    assert "stock:write" in flows["password"]["scopes"]
    assert "users:manage" not in flows["clientCredentials"]["scopes"]  # people only


async def test_a_person_logs_in_as_authorize_sends_it(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """Swagger UI's password flow sends the scopes ticked (often none) and, by default, an
    empty client id and secret as HTTP Basic: a person's login ignores both."""
    user = await make_user(role=Role.CLERK)
    empty_client = "Basic " + base64.b64encode(b":").decode()
    for scope in ("", "stock:read stock:write"):
        response = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "scope": scope,
                "username": user.email,
                "password": DEFAULT_PASSWORD,
            },
            headers={"Authorization": empty_client},
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["role"] == "clerk"
    # A wrong password is refused as without Authorize.
    refused = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": user.email, "password": "not it at all"},
        headers={"Authorization": empty_client},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
