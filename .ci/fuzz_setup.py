"""Prepare a served Stockroom for Schemathesis (.ci/fuzz): wait until it is ready, log in as the
admin, add the records and users the fuzz run needs, and hand over what the run must know.

Usage: fuzz_setup.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD CONFIG_IN CONFIG_OUT ENV_OUT

The database already holds `stockroom seed-demo` data. This script writes CONFIG_OUT: the
Schemathesis settings of CONFIG_IN followed by dictionaries of existing ids (products,
locations, a movement, a user), so generated requests name records that exist and reach the
handlers instead of answering 404. ENV_OUT gets shell assignments of the ids, tokens and
passwords the settings refer to as ${...}; they are never printed.
"""

from __future__ import annotations

import json
import secrets
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import httpx

LOGIN_EMAIL = "fuzz-login@example.com"  # the token endpoint logs this user in
CHANGER_EMAIL = "fuzz-password@example.com"  # POST /users/me/password changes this one's


def wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if client.get("/api/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            sys.exit("the server did not become ready")
        time.sleep(0.5)


def login(client: httpx.Client, email: str, password: str) -> str:
    reply = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    reply = client.request(method, path, **kwargs)
    if reply.status_code >= 400:
        sys.exit(f"{method} {path} answered {reply.status_code}: {reply.text}")
    return reply.json()


def ids(page: dict[str, Any]) -> list[str]:
    return [str(item["id"]) for item in page["items"]]


def toml_dictionary(name: str, values: list[str]) -> str:
    return f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n"


def main(
    base: str, email: str, password: str, config_in: str, config_out: str, env_out: str
) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        wait_ready(client)
        admin = {"Authorization": f"Bearer {login(client, email, password)}"}

        products = ids(call(client, "GET", "/api/v1/products?limit=3", headers=admin))
        locations = ids(call(client, "GET", "/api/v1/locations?limit=3", headers=admin))
        movements = ids(call(client, "GET", "/api/v1/stock/movements?limit=10", headers=admin))
        demo = call(client, "GET", "/api/v1/users?q=demo-seed", headers=admin)
        if not (products and len(locations) >= 2 and movements and demo["items"]):
            sys.exit("the seeded database lacks products, locations, movements or the demo user")
        # Plenty on hand where the fuzz run posts, so issues and transfers can succeed.
        for product in products:
            for location in locations:
                stock = {"product_id": product, "location_id": location, "kind": "receipt"}
                stock["quantity"] = 10**11
                call(client, "POST", "/api/v1/stock/movements", headers=admin, json=stock)
        # DELETE archives: it gets records of its own, without stock, so the seeded ones the
        # other operations use stay active.
        spare_product = call(
            client,
            "POST",
            "/api/v1/products",
            headers=admin,
            json={"sku": "FUZZ-SPARE", "name": "Archived by the fuzz run"},
        )["id"]
        spare_location = call(
            client,
            "POST",
            "/api/v1/locations",
            headers=admin,
            json={"code": "FUZZ-SPARE", "name": "Archived by the fuzz run"},
        )["id"]

        # Webhook endpoints at a public address literal (no DNS needed; the fuzz server
        # delivers nothing, WEBHOOK_CONCURRENCY=0): one the operations work on, with a
        # delivery in its log, and a spare one DELETE removes.
        hooks = [
            call(
                client,
                "POST",
                "/api/v1/webhooks",
                headers=admin,
                json={"url": f"https://93.184.215.14/fuzz-{name}", "description": name},
            )["id"]
            for name in ("target", "spare")
        ]
        delivery = call(client, "POST", f"/api/v1/webhooks/{hooks[0]}/test", headers=admin)["id"]
        # API clients: one the operations work on, and a spare one DELETE revokes.
        clients = [
            call(
                client,
                "POST",
                "/api/v1/clients",
                headers=admin,
                json={"name": f"Fuzz {name}", "scopes": ["catalog:read", "stock:read"]},
            )["id"]
            for name in ("target", "spare")
        ]
        audit_entries = ids(call(client, "GET", "/api/v1/audit?limit=5", headers=admin))
        # Allocations the fulfil, release and extend operations find (each ends one at most).
        allocations = [
            call(
                client,
                "POST",
                "/api/v1/stock/allocations",
                headers=admin,
                json={
                    "reference": f"FUZZ-{n}",
                    "lines": [{"product_id": product, "quantity": 1} for product in products],
                    "expires_in": 3600,
                },
            )["id"]
            for n in range(3)
        ]

        # Two users of their own: one the token endpoint logs in, one whose password the
        # password change may really change (its token then stops working, by design).
        secrets_for = {
            "FUZZ_ADMIN_TOKEN": admin["Authorization"].removeprefix("Bearer "),
            "FUZZ_PRODUCT_ID": products[0],
            "FUZZ_LOCATION_ID": locations[0],
            "FUZZ_OTHER_LOCATION_ID": locations[1],
        }
        admins_create = "post" in call(client, "GET", "/api/v1/openapi.json")["paths"].get(
            "/api/v1/users", {}
        )
        for user_email, key in ((LOGIN_EMAIL, "LOGIN"), (CHANGER_EMAIL, "CHANGER")):
            user = {"email": user_email, "password": secrets.token_urlsafe(24), "full_name": key}
            if admins_create:  # POST /api/v1/users (admin); else open registration
                user["role"] = "viewer"
                call(client, "POST", "/api/v1/users", headers=admin, json=user)
            else:
                call(client, "POST", "/api/v1/auth/register", json=user)
            secrets_for[f"FUZZ_{key}_PASSWORD"] = user["password"]
        secrets_for["FUZZ_CHANGER_TOKEN"] = login(
            client, CHANGER_EMAIL, secrets_for["FUZZ_CHANGER_PASSWORD"]
        )

    dictionaries = [
        toml_dictionary("products", products),
        toml_dictionary("locations", locations),
        toml_dictionary("movements", movements),
        toml_dictionary("users", [str(demo["items"][0]["id"])]),
        toml_dictionary("spare_products", [str(spare_product)]),
        toml_dictionary("spare_locations", [str(spare_location)]),
        toml_dictionary("webhooks", [str(hooks[0])]),
        toml_dictionary("spare_webhooks", [str(hooks[1])]),
        toml_dictionary("webhook_deliveries", [str(delivery)]),
        toml_dictionary("clients", [str(clients[0])]),
        toml_dictionary("spare_clients", [str(clients[1])]),
        toml_dictionary("audit_entries", audit_entries),
        toml_dictionary("allocations", allocations),
    ]
    settings = Path(config_in).read_text(encoding="utf-8")
    header = "\n# ---- written by .ci/fuzz_setup.py: ids of this run's seeded records\n"
    Path(config_out).write_text(settings + header + "\n".join(dictionaries), encoding="utf-8")
    Path(env_out).write_text(
        "".join(f"export {name}={shlex.quote(value)}\n" for name, value in secrets_for.items()),
        encoding="utf-8",
    )
    print(
        f"seeded for the fuzz run: {len(products)} products, {len(locations)} locations, "
        f"{len(movements)} movements, the demo user, a spare product and location, 2 users, "
        "2 webhook endpoints, 2 API clients, 3 allocations"
    )


if __name__ == "__main__":
    main(*sys.argv[1:7])
