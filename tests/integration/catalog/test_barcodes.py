"""Product barcodes: GTINs checked at the item (length, digits, check digit, repeats, how
many), kept as sent, unique among active products (compared as GTIN-14) by the database,
so a taken one is a 409 on create, PATCH and restore; PATCH replaces the list under
If-Match; events and the audit log carry them; of two racing writers, one wins."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.models.user import Role
from src.schemas.catalog import MAX_BARCODES
from tests.support.audit import audit_rows
from tests.support.barcodes import EAN_8, UPC_A, new_gtin, wrong_check_digit
from tests.support.factories import Headers, MakeUser, login_headers
from tests.support.stock import new_product

PRODUCTS = "/api/v1/products"


def assert_invalid_at(response: httpx.Response, loc: list[Any], words: str) -> None:
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["loc"] for e in errors] == [loc], errors
    assert words in errors[0]["msg"]
    assert "[0-9]" not in errors[0]["msg"]  # a sentence, never the regex


def assert_barcode_taken(response: httpx.Response, barcode: str) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["type"] == "/problems/duplicate"
    assert body["field"] == "barcodes"
    assert f"barcode '{barcode}'" in body["detail"]


async def held(connection: AsyncConnection, product_id: str) -> set[tuple[str, bool]]:
    """The lookup rows the trigger keeps for one product: (GTIN-14, active)."""
    rows = await connection.execute(
        text("SELECT barcode, is_active FROM product_barcodes WHERE product_id = :id"),
        {"id": product_id},
    )
    return {(row.barcode, row.is_active) for row in rows}


async def patch(
    client: httpx.AsyncClient, headers: Headers, product: dict[str, Any], body: dict[str, Any]
) -> httpx.Response:
    tag = f'"v{product["version"]}"'
    return await client.patch(
        f"{PRODUCTS}/{product['id']}", json=body, headers={**headers, "If-Match": tag}
    )


async def test_barcodes_are_kept_as_sent_and_mirrored_for_uniqueness(
    client: httpx.AsyncClient, manager_headers: Headers, connection: AsyncConnection
) -> None:
    ean = new_gtin(13)
    product = await new_product(client, manager_headers, barcodes=[UPC_A, ean, EAN_8])
    assert product["barcodes"] == [UPC_A, ean, EAN_8]
    read = await client.get(f"{PRODUCTS}/{product['id']}", headers=manager_headers)
    assert read.json()["barcodes"] == [UPC_A, ean, EAN_8]
    assert await held(connection, product["id"]) == {
        ("00" + UPC_A, True),
        ("0" + ean, True),
        ("000000" + EAN_8, True),
    }


@pytest.mark.parametrize(
    ("barcode", "words"),
    [
        pytest.param(wrong_check_digit(UPC_A), "wrong check digit", id="check-digit"),
        pytest.param("1234567890", "8, 12, 13 or 14 digits", id="length"),
        pytest.param("4006381333931 ", "8, 12, 13 or 14 digits", id="space"),
        pytest.param("40063813339X1", "8, 12, 13 or 14 digits", id="letter"),
    ],
)
async def test_a_bad_barcode_is_a_422_at_its_item_and_creates_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, barcode: str, words: str
) -> None:
    sku = f"BAD-{new_gtin(8)}"
    response = await client.post(
        PRODUCTS,
        json={"sku": sku, "name": "Bolt", "barcodes": [new_gtin(), barcode]},
        headers=manager_headers,
    )
    assert_invalid_at(response, ["body", "barcodes", 1], words)
    found = await client.get(PRODUCTS, params={"sku": sku}, headers=manager_headers)
    assert found.json()["items"] == []


async def test_a_barcode_twice_in_one_product_is_a_422_even_written_longer(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    response = await client.post(
        PRODUCTS,
        json={"sku": f"TWICE-{new_gtin(8)}", "name": "Bolt", "barcodes": [UPC_A, "0" + UPC_A]},
        headers=manager_headers,
    )
    assert_invalid_at(response, ["body", "barcodes", 1], "repeats the barcode at index 0")


async def test_too_many_barcodes_or_null_are_refused(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    many = [new_gtin() for _ in range(MAX_BARCODES + 1)]
    response = await client.post(
        PRODUCTS, json={"sku": "MANY-1", "name": "Bolt", "barcodes": many}, headers=manager_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "barcodes"]
    product = await new_product(client, manager_headers, barcodes=[new_gtin()])
    nulled = await patch(client, manager_headers, product, {"barcodes": None})
    assert nulled.status_code == 422, nulled.text
    again = await client.get(f"{PRODUCTS}/{product['id']}", headers=manager_headers)
    assert again.json()["barcodes"] == product["barcodes"]


async def test_a_barcode_of_another_active_product_is_a_409_naming_it(
    client: httpx.AsyncClient, manager_headers: Headers, connection: AsyncConnection
) -> None:
    await new_product(client, manager_headers, barcodes=["0" + UPC_A])
    sku = f"DUP-{new_gtin(8)}"
    response = await client.post(
        PRODUCTS,
        json={"sku": sku, "name": "Bolt", "barcodes": [new_gtin(), UPC_A]},
        headers=manager_headers,
    )
    # The UPC-A and its EAN-13 form are one GTIN; the detail names it as this client sent it.
    assert_barcode_taken(response, UPC_A)
    found = await client.get(PRODUCTS, params={"sku": sku}, headers=manager_headers)
    assert found.json()["items"] == []
    other = await new_product(client, manager_headers)
    patched = await patch(client, manager_headers, other, {"barcodes": [UPC_A]})
    assert_barcode_taken(patched, UPC_A)
    assert await held(connection, other["id"]) == set()


async def test_an_archived_products_barcode_may_be_reused_but_blocks_its_restore(
    client: httpx.AsyncClient, manager_headers: Headers, connection: AsyncConnection
) -> None:
    barcode = new_gtin(14)
    old = await new_product(client, manager_headers, barcodes=[barcode])
    archived = await client.delete(f"{PRODUCTS}/{old['id']}", headers=manager_headers)
    assert archived.status_code == 204
    assert await held(connection, old["id"]) == {(barcode, False)}

    new = await new_product(client, manager_headers, barcodes=[barcode])
    assert new["barcodes"] == [barcode]

    restored = await client.post(f"{PRODUCTS}/{old['id']}/restore", headers=manager_headers)
    assert_barcode_taken(restored, barcode)
    still = await client.get(f"{PRODUCTS}/{old['id']}", headers=manager_headers)
    assert still.json()["is_archived"] is True
    assert still.json()["version"] == 2
    # Once the new product lets the barcode go, the old one comes back.
    assert (await patch(client, manager_headers, new, {"barcodes": []})).status_code == 200
    restored = await client.post(f"{PRODUCTS}/{old['id']}/restore", headers=manager_headers)
    assert restored.status_code == 200, restored.text
    assert await held(connection, old["id"]) == {(barcode, True)}


async def test_patch_replaces_the_list_under_if_match(
    client: httpx.AsyncClient, manager_headers: Headers, connection: AsyncConnection
) -> None:
    first, second = new_gtin(), new_gtin(12)
    product = await new_product(client, manager_headers, barcodes=[first])
    replaced = await patch(client, manager_headers, product, {"barcodes": [second, first]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["barcodes"] == [second, first]
    assert replaced.headers["etag"] == '"v2"'

    stale = await patch(client, manager_headers, product, {"barcodes": []})  # still v1
    assert stale.status_code == 412
    missing = await client.patch(
        f"{PRODUCTS}/{product['id']}", json={"barcodes": []}, headers=manager_headers
    )
    assert missing.status_code == 428
    assert await held(connection, product["id"]) == {("0" + first, True), ("00" + second, True)}

    cleared = await patch(client, manager_headers, replaced.json(), {"barcodes": []})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["barcodes"] == []
    assert await held(connection, product["id"]) == set()


async def test_a_viewer_cannot_set_barcodes(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    viewer_headers: Headers,
    connection: AsyncConnection,
) -> None:
    refused = await client.post(
        PRODUCTS,
        json={"sku": "VIEW-1", "name": "Bolt", "barcodes": [new_gtin()]},
        headers=viewer_headers,
    )
    assert refused.status_code == 403
    product = await new_product(client, manager_headers)
    patched = await patch(client, viewer_headers, product, {"barcodes": [new_gtin()]})
    assert patched.status_code == 403
    assert await held(connection, product["id"]) == set()


async def events_of(connection: AsyncConnection, product_id: str) -> list[tuple[str, Any]]:
    rows = await connection.execute(
        text("SELECT type, data FROM events WHERE data ->> 'id' = :id ORDER BY seq"),
        {"id": product_id},
    )
    return [(row.type, row.data["barcodes"]) for row in rows]


async def test_events_and_the_audit_log_carry_barcodes(
    client: httpx.AsyncClient, manager_headers: Headers, connection: AsyncConnection
) -> None:
    first, second = new_gtin(), new_gtin(8)
    product = await new_product(client, manager_headers, barcodes=[first])
    patched = await patch(client, manager_headers, product, {"barcodes": [first, second]})
    assert patched.status_code == 200, patched.text
    assert await events_of(connection, product["id"]) == [
        ("product.created", [first]),
        ("product.updated", [first, second]),
    ]
    (created,) = await audit_rows(connection, entity_id=product["id"], action="product.created")
    assert created["changes"]["barcodes"] == [None, [first]]
    (updated,) = await audit_rows(connection, entity_id=product["id"], action="product.updated")
    assert updated["changes"] == {"barcodes": [[first], [first, second]]}


async def test_the_same_list_again_changes_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, connection: AsyncConnection
) -> None:
    barcode = new_gtin()
    product = await new_product(client, manager_headers, barcodes=[barcode])
    same = await patch(client, manager_headers, product, {"barcodes": [barcode]})
    assert same.status_code == 200
    assert same.json()["version"] == 1
    assert await events_of(connection, product["id"]) == [("product.created", [barcode])]


async def test_two_racing_products_with_one_barcode_make_one_holder(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    manager = await login_headers(committed_client, await committed_make_user(role=Role.MANAGER))
    barcode = new_gtin(12)
    responses = await asyncio.gather(
        *(
            committed_client.post(
                PRODUCTS,
                json={"sku": f"RACE-{new_gtin(8)}", "name": "Racer", "barcodes": [sent]},
                headers=manager,
            )
            for sent in (barcode, "0" + barcode)  # one GTIN, written two ways
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 1}
    [created] = [r.json() for r in responses if r.status_code == 201]
    [refused] = [r for r in responses if r.status_code == 409]
    assert_barcode_taken(refused, json.loads(refused.request.content)["barcodes"][0])
    listing = await committed_client.get(PRODUCTS, params={"barcode": barcode}, headers=manager)
    assert [item["id"] for item in listing.json()["items"]] == [created["id"]]
