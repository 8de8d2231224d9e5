"""`GET /stock/levels?expand=product,location`: each level carries its product and location,
so a screen needs one request per page, not one per row; without `expand` nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.cursors import CursorCodec
from src.repositories.stock.read import StockRepository
from src.schemas.filter import LevelFilter
from tests.support.capture import CapturingSession
from tests.support.factories import Headers
from tests.support.stock import API, new_location, new_product, post_movement, receive

Record = dict[str, Any]
LEVELS = f"{API}/stock/levels"
LEVEL_KEYS = {
    "product_id", "location_id", "on_hand", "reserved", "available", "incoming", "updated_at",
}  # fmt: skip
FUTURE = "2999-01-01T00:00:00Z"


def product_summary(product: Record) -> Record:
    return {k: product[k] for k in ("id", "sku", "name", "unit", "reorder_point")}


def location_summary(location: Record) -> Record:
    return {k: location[k] for k in ("id", "code", "name")}


async def levels(client: httpx.AsyncClient, headers: Headers, params: Any) -> list[Record]:
    response = await client.get(LEVELS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Record] = response.json()["items"]
    return items


Stocked = tuple[Record, Record, Record]


async def test_expand_product_embeds_the_product_only(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    params = {"product_id": product["id"], "expand": "product"}
    [level] = await levels(client, viewer_headers, params)
    assert set(level) == LEVEL_KEYS | {"product"}
    assert level["product"] == product_summary(product)
    assert (level["location_id"], level["on_hand"]) == (a["id"], 10)


async def test_expand_location_embeds_the_location_only(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    params = {"product_id": product["id"], "expand": "location"}
    [level] = await levels(client, viewer_headers, params)
    assert set(level) == LEVEL_KEYS | {"location"}
    assert level["location"] == location_summary(a)


@pytest.mark.parametrize(
    "expand",
    [
        [("expand", "product,location")],
        [("expand", "location,product")],
        [("expand", "location"), ("expand", "product")],
        [("expand", "product,product"), ("expand", "location")],
    ],
    ids=["comma", "either-order", "repeated", "twice-named"],
)
async def test_both_however_written_embed_both_and_change_nothing_else(
    client: httpx.AsyncClient,
    viewer_headers: Headers,
    stocked: Stocked,
    expand: list[tuple[str, str]],
) -> None:
    product, a, _ = stocked
    plain = await levels(client, viewer_headers, {"product_id": product["id"]})
    [level] = await levels(client, viewer_headers, [("product_id", product["id"]), *expand])
    assert level["product"] == product_summary(product)
    assert level["location"] == location_summary(a)
    # The level itself is as without `expand`, which adds no key at all (not even null).
    assert [{k: v for k, v in level.items() if k in LEVEL_KEYS}] == plain
    assert set(plain[0]) == LEVEL_KEYS


async def test_embedded_records_follow_the_filters(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked  # 10 at a, reorder point 5: not below
    short = await new_product(client, manager_headers, reorder_point=20, unit="box")
    await receive(client, clerk_headers, short, a, 3)
    params = {"location_id": a["id"], "below_reorder": "true", "expand": "product,location"}
    found = await levels(client, clerk_headers, params)
    assert [(lvl["product"], lvl["location"]) for lvl in found] == [
        (product_summary(short), location_summary(a))
    ]
    both = await levels(
        client,
        clerk_headers,
        [("product_id", product["id"]), ("product_id", short["id"]), ("expand", "product")],
    )
    assert {lvl["product"]["sku"] for lvl in both} == {product["sku"], short["sku"]}
    assert all(lvl["product"]["id"] == lvl["product_id"] for lvl in both)


async def test_expand_with_as_of_embeds_the_records_of_past_levels(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers, reorder_point=5)
    a, b = await new_location(client, manager_headers), await new_location(client, manager_headers)
    first = await receive(client, clerk_headers, product, a, 10)
    await receive(client, clerk_headers, product, b, 7)
    assert (await post_movement(client, clerk_headers, product, a, "issue", 8)).status_code == 201
    then = await levels(
        client,
        clerk_headers,
        {"as_of": first["created_at"], "product_id": product["id"], "expand": "product,location"},
    )
    assert [(lvl["on_hand"], lvl["location"]) for lvl in then] == [(10, location_summary(a))]
    assert then[0]["product"] == product_summary(product)
    assert then[0]["available"] is None  # reservations have no history: null, still sent
    short = await levels(
        client,
        clerk_headers,
        {
            "as_of": FUTURE,
            "product_id": product["id"],
            "below_reorder": "true",
            "expand": "location",
        },
    )
    assert [(lvl["on_hand"], lvl["location"]) for lvl in short] == [(2, location_summary(a))]
    assert "product" not in short[0]


@pytest.mark.parametrize("as_of", [None, FUTURE], ids=["current", "as-of"])
async def test_pages_follow_the_cursor_with_records_embedded(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    clerk_headers: Headers,
    as_of: str | None,
) -> None:
    where = await new_location(client, manager_headers)
    products = {}
    for quantity in (1, 2, 3):
        product = await new_product(client, manager_headers)
        products[product["id"]] = product
        await receive(client, clerk_headers, product, where, quantity)
    params: dict[str, str] = {"location_id": where["id"], "limit": "2"}
    if as_of is not None:
        params["as_of"] = as_of
    plain = await levels(client, clerk_headers, {**params, "limit": "10"})
    seen: list[Record] = []
    expanded = {**params, "expand": "product,location"}
    while True:
        response = await client.get(LEVELS, params=expanded, headers=clerk_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["items"]
        if body["next_cursor"] is None:
            break
        expanded["cursor"] = body["next_cursor"]
    assert len(seen) == 3  # pages of 2 and 1, in the same order as without `expand`
    assert [{k: v for k, v in lvl.items() if k in LEVEL_KEYS} for lvl in seen] == plain
    for level in seen:
        assert level["product"] == product_summary(products[level["product_id"]])
        assert level["location"] == location_summary(where)


@pytest.mark.parametrize(
    "value", ["supplier", "product,", ",location", "Product", "product;location", ""]
)
async def test_an_unknown_expansion_is_422_naming_the_parameter(
    client: httpx.AsyncClient, viewer_headers: Headers, value: str
) -> None:
    response = await client.get(LEVELS, params={"expand": value}, headers=viewer_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["loc"] == ["query", "expand", 0]
    assert "product or location" in error["msg"]  # the rule in words, not the regex
    if value:
        assert value not in response.text  # problems never echo input values


async def test_more_expansions_than_there_are_records_is_422(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    params = [("expand", "product"), ("expand", "location"), ("expand", "product")]
    response = await client.get(LEVELS, params=params, headers=viewer_headers)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "expand"]]


async def test_expand_needs_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(LEVELS, params={"expand": "product,location"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = await client.get(
        LEVELS, params={"expand": "product"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert bad.status_code == 401


async def test_an_unknown_parameter_beside_expand_is_still_422(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.get(
        LEVELS, params={"expand": "product", "embed": "location"}, headers=viewer_headers
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "embed"]]


# One query per page: the records are joined into the page's statement, not fetched per row
# (tests/integration/operations/test_round_trips.py counts the same on the wire, through the app).
CODEC = CursorCodec("statements-only")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LAST = "0190f0f0-0000-7000-8000-000000000001"  # the previous page's last key: (LAST, LAST)


async def _statements(filters: LevelFilter, *, after: bool) -> list[str]:
    """What the levels page runs, captured, as SQL."""
    session = CapturingSession()
    scope = "stock_levels:as_of" if filters.as_of else "stock_levels:key"
    cursor = CODEC.encode(scope, [LAST, LAST]) if after else None
    repository = StockRepository(cast(AsyncSession, session))
    await repository.levels_page(filters, codec=CODEC, cursor=cursor, limit=20)
    return [str(statement) for statement in session.statements]


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("as_of", [None, NOW], ids=["current", "as-of"])
@pytest.mark.parametrize("below_reorder", [False, True], ids=["all", "below-reorder"])
async def test_a_page_with_expand_is_as_many_statements_as_without(
    after: bool, as_of: datetime | None, below_reorder: bool
) -> None:
    common: dict[str, Any] = {"as_of": as_of, "below_reorder": below_reorder}
    plain = await _statements(LevelFilter(**common), after=after)
    expanded = await _statements(LevelFilter(**common, expand=["product,location"]), after=after)
    assert len(plain) == len(expanded) == 1
    [sql] = expanded
    assert "JOIN products ON" in sql
    assert "JOIN locations ON" in sql
    assert sql.count("JOIN products") == 1  # below_reorder's join serves the embedding too
