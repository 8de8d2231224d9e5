"""`PrefixRouter` rules itself out by its prefix, and otherwise matches as FastAPI does."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pytest_mock import MockerFixture
from starlette.routing import Match

from src.api.routing import PrefixRouter

router = PrefixRouter(prefix="/api/v1/things")


@router.get("/{thing_id}")
async def read_thing(thing_id: int) -> dict[str, int]:
    return {"id": thing_id}


other = PrefixRouter(prefix="/api/v1/others")


@other.get("")
async def list_others() -> list[str]:
    return []


app = FastAPI()
app.include_router(router)
app.include_router(other)


def scope(path: str, method: str = "GET", root_path: str = "") -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path}


@pytest.mark.parametrize(
    "path", ["/api/v1/others", "/api/v1/thing/1", "/docs", "/", "/api/v1/THINGS/1"]
)
def test_a_path_outside_the_prefix_is_refused_without_matching_routes(
    mocker: MockerFixture, path: str
) -> None:
    matching = mocker.patch.object(APIRouter, "matches", return_value=(Match.FULL, {}))
    assert router.matches(scope(path)) == (Match.NONE, {})
    matching.assert_not_called()


def test_a_path_inside_the_prefix_is_matched_as_fastapi_does(mocker: MockerFixture) -> None:
    matching = mocker.patch.object(APIRouter, "matches", return_value=(Match.PARTIAL, {}))
    assert router.matches(scope("/api/v1/things/1", method="POST")) == (Match.PARTIAL, {})
    matching.assert_called_once()


async def test_inside_the_prefix_routes_match_and_answer() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        found = await c.get("/api/v1/things/7")
        listed = await c.get("/api/v1/others")
        missing = await c.get("/api/v1/nothing/7")
        wrong_method = await c.post("/api/v1/things/7")
        bad_id = await c.get("/api/v1/things/seven")
    assert found.json() == {"id": 7}
    assert listed.json() == []
    assert missing.status_code == 404
    # A route of the router matched by path but not by method: still a 405, with Allow.
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"
    assert bad_id.status_code == 422


async def test_the_prefix_is_compared_below_the_root_path() -> None:
    """Behind a proxy's root_path, the path the prefix is compared with is the route's."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, root_path="/shop"), base_url="http://t"
    ) as c:
        found = await c.get("/shop/api/v1/things/3")
    assert found.status_code == 200
    assert found.json() == {"id": 3}
