"""The transit location: the service's own, read-only to the API, and never a shortage in the
`below_reorder` levels listing (stock on the road is not a level to reorder for)."""

from __future__ import annotations

import httpx

from tests.support.factories import Headers
from tests.support.stock import API, Item, Stocked, level, post_movement, ship

URL = f"{API}/locations"
EARLY = "1999-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


async def _shipped_to_transit(
    client: httpx.AsyncClient, clerk: Headers, stocked: Stocked, quantity: int
) -> Item:
    """Ships `quantity` from `a` to `b`; the transit location, as the API reads it."""
    product, a, b = stocked
    response = await ship(client, clerk, a, b, (product, quantity))
    assert response.status_code == 201, response.text
    listed = (await client.get(URL, params={"limit": 100}, headers=clerk)).json()
    (transit,) = [location for location in listed["items"] if location["is_transit"]]
    return dict(transit)


async def test_the_transit_location_cannot_be_renamed(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    transit = await _shipped_to_transit(client, clerk_headers, stocked, 2)
    path = f"{URL}/{transit['id']}"
    for body in ({"name": "Main warehouse"}, {"code": "WH-MAIN"}, {"name": transit["name"]}):
        response = await client.patch(
            path, json=body, headers={**manager_headers, "If-Match": f'"v{transit["version"]}"'}
        )
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["type"].endswith("/problems/conflict")
        assert "transit location" in problem["detail"]
    after = (await client.get(path, headers=manager_headers)).json()
    assert {k: after[k] for k in ("code", "name", "version", "is_transit", "is_archived")} == {
        k: transit[k] for k in ("code", "name", "version", "is_transit", "is_archived")
    }
    assert after["code"] == "~in-transit"


async def test_the_transit_location_cannot_be_archived_or_restored(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    transit = await _shipped_to_transit(client, clerk_headers, stocked, 2)
    path = f"{URL}/{transit['id']}"
    archived = await client.delete(path, headers=manager_headers)
    restored = await client.post(f"{path}/restore", headers=manager_headers)
    for response in (archived, restored):
        assert response.status_code == 409, response.text
        assert "transit location" in response.json()["detail"]
    after = (await client.get(path, headers=manager_headers)).json()
    assert (after["is_archived"], after["version"]) == (False, transit["version"])


async def test_an_ordinary_location_is_still_renamed(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    await _shipped_to_transit(client, clerk_headers, stocked, 2)
    _, a, _ = stocked
    response = await client.patch(
        f"{URL}/{a['id']}",
        json={"name": "Renamed"},
        headers={**manager_headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["version"]) == ("Renamed", 2)


async def _below_reorder(client: httpx.AsyncClient, headers: Headers, **params: str) -> set[str]:
    response = await client.get(
        f"{API}/stock/levels", params={"below_reorder": "true", **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return {item["location_id"] for item in response.json()["items"]}


async def test_below_reorder_leaves_the_transit_location_out(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked  # reorder point 5; 10 at a
    transit = await _shipped_to_transit(client, clerk_headers, stocked, 4)
    issued = await post_movement(client, clerk_headers, product, a, "issue", 2)
    assert issued.status_code == 201, issued.text
    # Transit holds 4 < 5, a holds 4 and b (the destination) 0: a and b are short.
    assert (await level(client, clerk_headers, product, transit))["on_hand"] == 4
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 4
    by_product = {"product_id": product["id"]}
    short = {a["id"], b["id"]}
    assert await _below_reorder(client, clerk_headers, **by_product) == short
    assert await _below_reorder(client, clerk_headers, **by_product, expand="location") == short
    assert await _below_reorder(client, clerk_headers, location_id=transit["id"]) == set()
    # Recomputed from the ledger (b has no movements there, so no level then).
    assert await _below_reorder(client, clerk_headers, **by_product, as_of=FUTURE) == {a["id"]}
    assert await _below_reorder(client, clerk_headers, **by_product, as_of=EARLY) == set()
    # Without the filter, the transit level is listed like any other.
    everything = await client.get(f"{API}/stock/levels", params=by_product, headers=clerk_headers)
    listed = {item["location_id"] for item in everything.json()["items"]}
    assert {a["id"], b["id"], transit["id"]} <= listed
