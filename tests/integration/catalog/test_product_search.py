"""`GET /products?q=` (sku, name or a barcode contains the term, ignoring case and accents)
and `?barcode=` (one of the product's GTINs, compared as GTIN-14, archived products too)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.barcodes import UPC_A, new_gtin, wrong_check_digit
from tests.support.factories import Headers
from tests.support.stock import new_product

PRODUCTS = "/api/v1/products"


async def found(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[str]:
    response = await client.get(PRODUCTS, params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("term", ["creme", "CRÈME", "Crème", "brulee", "BRÛLÉE"])
async def test_q_ignores_case_and_accents_on_both_sides(
    client: httpx.AsyncClient, manager_headers: Headers, term: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    dessert = await new_product(client, manager_headers, name=f"Crème brûlée {tag}")
    await new_product(client, manager_headers, name=f"Cream cheese {tag}")
    assert await found(client, manager_headers, q=f"{term}") == [dessert["id"]]


async def test_q_finds_sku_and_barcode_substrings(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    barcode = new_gtin(13)
    by_barcode = await new_product(client, manager_headers, barcodes=[barcode])
    by_sku = await new_product(client, manager_headers, sku=f"UNI-{barcode[3:10]}")
    assert sorted(await found(client, manager_headers, q=barcode)) == [by_barcode["id"]]
    assert sorted(await found(client, manager_headers, q=barcode[3:10])) == sorted(
        [by_barcode["id"], by_sku["id"]]
    )
    assert await found(client, manager_headers, q=f"uni-{barcode[3:10]}") == [by_sku["id"]]


FULL_WIDTH_PERCENT = "\uff05"  # unaccent folds it into '%'


@pytest.mark.parametrize("term", ["%", "_", FULL_WIDTH_PERCENT, "\\"])
async def test_q_wildcards_are_literal_even_after_folding(
    client: httpx.AsyncClient, manager_headers: Headers, term: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    await new_product(client, manager_headers, name=f"Plain {tag}")
    marked = await new_product(client, manager_headers, name=f"Fifty {term} off {tag}")
    # Folded into '%', the full-width sign must still match that character, not any text.
    assert await found(client, manager_headers, q=f"{term} off {tag}") == [marked["id"]]
    assert await found(client, manager_headers, q=f"y {term} o") == [marked["id"]]


async def test_barcode_is_exact_and_compares_the_gtin_14_form(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers, barcodes=["0" + UPC_A, new_gtin()])
    await new_product(client, manager_headers, barcodes=[new_gtin()])
    assert await found(client, manager_headers, barcode=UPC_A) == [product["id"]]
    assert await found(client, manager_headers, barcode="0" + UPC_A) == [product["id"]]
    assert await found(client, manager_headers, barcode=new_gtin()) == []
    # An archived product is found too, unless the filter says otherwise.
    assert (await client.delete(f"{PRODUCTS}/{product['id']}", headers=manager_headers)).is_success
    assert await found(client, manager_headers, barcode=UPC_A) == [product["id"]]
    assert await found(client, manager_headers, barcode=UPC_A, is_archived="false") == []


@pytest.mark.parametrize(
    ("barcode", "words"),
    [
        (wrong_check_digit(UPC_A), "wrong check digit"),
        ("12345", "8, 12, 13 or 14 digits"),
        ("0360002914520", "wrong check digit"),
    ],
    ids=["check-digit", "length", "padded-wrong"],
)
async def test_a_barcode_filter_that_is_no_gtin_is_a_422(
    client: httpx.AsyncClient, manager_headers: Headers, barcode: str, words: str
) -> None:
    response = await client.get(PRODUCTS, params={"barcode": barcode}, headers=manager_headers)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["loc"] == ["query", "barcode"]
    assert words in error["msg"]


async def test_search_needs_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(PRODUCTS, params={"barcode": UPC_A})
    assert response.status_code == 401
    assert (await client.get(PRODUCTS, params={"q": "creme"})).status_code == 401
