"""The page-iterating loop in docs/API.md works: taken from the page as it is and run against
a served app, the script prints every active product once across several pages, and its
`every_item` follows filters to the last page; a refused token or an unknown filter raises
instead of yielding a partial list."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from src.main import create_app
from src.models.user import Role
from tests.conftest import make_settings
from tests.support.factories import create_user, login_headers
from tests.support.servers import running
from tests.support.stock import new_product

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
# More than two pages of the example's 100.
PRODUCTS = 205


def example_code() -> str:
    blocks = [
        b for b in PYTHON_BLOCK.findall(DOC.read_text(encoding="utf-8")) if "next_cursor" in b
    ]
    assert len(blocks) == 1, "docs/API.md should hold exactly one Python paging example"
    code: str = blocks[0]
    assert "def every_item(" in code
    return code


@dataclass
class Served:
    api: str  # the base URL the example is given
    headers: dict[str, str]  # a viewer's
    products: list[dict[str, Any]]  # every product, archived ones included
    script: Path  # the example, as a file


@pytest.fixture(scope="module")
async def served(feed_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """A served app on a database of the module's own, holding `PRODUCTS` products (two of
    them archived), and the example written out as the script it is; the tests only read."""
    tmp_path = tmp_path_factory.mktemp("paging")
    engine = create_async_engine(feed_url)
    try:
        async with engine.connect() as connection:
            manager = await create_user(connection, role=Role.MANAGER)
            viewer = await create_user(connection, role=Role.VIEWER)
            await connection.commit()
    finally:
        await engine.dispose()
    script = tmp_path / "every_product.py"
    script.write_text(example_code(), encoding="utf-8")
    async with (
        running(create_app(make_settings(feed_url, tmp_path))) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        staff = await login_headers(http, manager)
        products = [await new_product(http, staff) for _ in range(PRODUCTS)]
        for product in products[:2]:
            archived = await http.delete(f"/api/v1/products/{product['id']}", headers=staff)
            assert archived.status_code == 204, archived.text
        yield Served(f"{base}/api/v1", await login_headers(http, viewer), products, script)


async def run_script(served: Served, token: str) -> tuple[int, str, str]:
    """Run the example as a script (the served app keeps answering meanwhile)."""
    env = {**os.environ, "STOCKROOM_API": served.api, "STOCKROOM_TOKEN": token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(served.script),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def load(served: Served) -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_every_item", served.script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def every_item(
    served: Served, path: str, sent: list[httpx.Request] | None = None, **filters: str
) -> list[dict[str, Any]]:
    """The example's `every_item`, run to its end in a thread (it is a blocking client); each
    request it sends goes into `sent`."""
    module = load(served)
    hooks = {"request": [sent.append]} if sent is not None else {}

    def collect() -> list[dict[str, Any]]:
        with httpx.Client(base_url=served.api, headers=served.headers, event_hooks=hooks) as client:
            return list(module.every_item(client, path, **filters))

    return await asyncio.to_thread(collect)


async def test_the_script_prints_every_active_product_once(served: Served) -> None:
    token = served.headers["Authorization"].removeprefix("Bearer ")
    status, out, err = await run_script(served, token)
    assert status == 0, err
    active = served.products[2:]
    assert out.splitlines() == [f"{p['sku']} {p['name']}" for p in active]  # created_at order


async def test_a_filter_is_kept_on_every_page(served: Served) -> None:
    sku = served.products[150]["sku"]
    assert [p["id"] for p in await every_item(served, "/products", sku=sku.lower())] == [
        served.products[150]["id"]
    ]
    # Archived ones too, when asked for: every page of the whole list.
    everything = await every_item(served, "/products", sort="-created_at")
    assert [p["id"] for p in everything] == [p["id"] for p in reversed(served.products)]
    assert await every_item(served, "/products", q="no such product") == []


async def test_filters_are_kept_on_the_second_and_third_pages(served: Served) -> None:
    # Newest first, archived ones left out: the two archived products are the oldest, so a
    # filter dropped after page 1 would bring them in on the last page.
    sent: list[httpx.Request] = []
    newest = await every_item(served, "/products", sent, is_archived="false", sort="-created_at")
    assert [p["id"] for p in newest] == [p["id"] for p in reversed(served.products[2:])]
    assert not any(p["is_archived"] for p in newest)
    assert len(sent) == 3  # 203 products: pages of 100, 100 and 3
    pages = [dict(request.url.params) for request in sent]
    for params in pages:
        assert params["is_archived"] == "false"
        assert params["sort"] == "-created_at"
        assert params["limit"] == "100"
    assert "cursor" not in pages[0]
    assert pages[1]["cursor"] != pages[2]["cursor"]
    # A filter that keeps one product in the middle of page 2's range: one page, one item.
    sent.clear()
    sku = served.products[150]["sku"]
    assert [p["id"] for p in await every_item(served, "/products", sent, sku=sku)] == [
        served.products[150]["id"]
    ]
    assert len(sent) == 1


async def test_a_refused_token_fails_the_script_and_prints_nothing(served: Served) -> None:
    status, out, err = await run_script(served, "not-a-token")
    assert status != 0
    assert out == ""
    assert "401 Unauthorized" in err


async def test_an_unknown_filter_raises_instead_of_yielding_part_of_a_list(
    served: Served,
) -> None:
    with pytest.raises(httpx.HTTPStatusError) as raised:
        await every_item(served, "/products", colour="red")
    assert raised.value.response.status_code == 422
    assert raised.value.response.json()["errors"][0]["loc"] == ["query", "colour"]
