"""The page-iterating loops in docs/API.md work: taken from the page as they are and run
against a served app (the Python one as a script, the TypeScript one compiled by tsc and run
by node), each prints every active product once across several pages and keeps its filters
to the last page; a refused token or an unknown filter raises instead of yielding a partial
list."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from src.main import create_app
from src.models.user import Role
from tests.support.factories import committed_users, login_headers
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.stock import new_product

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[3] / "docs" / "API.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
# More than two pages of the example's 100.
PRODUCTS = 205


TYPESCRIPT_BLOCK = re.compile(r"^```typescript\n(.*?)^```$", re.DOTALL | re.MULTILINE)
TYPESCRIPT = Path(__file__).resolve().parents[3] / "tests" / "typescript"
TOKEN_LINE = re.compile(r'^const TOKEN = ".*";', re.MULTILINE)
API_LINE = re.compile(r'^const API = ".*";', re.MULTILINE)
# Stand-ins in the compiled script, replaced per run (a test's token, the served base URL).
TOKEN_SLOT = "TOKEN-SLOT"
API_SLOT = "API-SLOT"
# Run after the example's own loop: filters over three pages, and an unknown filter.
TS_CHECKS = """
console.log("--");
const newest = { is_archived: "false", sort: "-created_at" };
for await (const product of everyItem<Product>(API, TOKEN, "/products", newest)) {
  console.log(product.id);
}
console.log("--");
try {
  for await (const product of everyItem<Product>(API, TOKEN, "/products", { colour: "red" })) {
    console.log(product.id);
  }
} catch (error) {
  console.log(`refused ${String(error).slice(0, 60)}`);
}
"""


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
    manager, viewer = await committed_users(feed_url, Role.MANAGER, Role.VIEWER)
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


def typescript_example() -> str:
    blocks = [
        b for b in TYPESCRIPT_BLOCK.findall(DOC.read_text(encoding="utf-8")) if "next_cursor" in b
    ]
    assert len(blocks) == 1, "docs/API.md should hold exactly one TypeScript paging example"
    code: str = blocks[0]
    assert "async function* everyItem<T>(" in code
    assert len(API_LINE.findall(code)) == 1
    assert len(TOKEN_LINE.findall(code)) == 1
    return code


@pytest.fixture(scope="module")
def compiled_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TypeScript example (plus `TS_CHECKS`) compiled by tsc under the project's strict
    settings, as the ES module the page says it is; the JavaScript file to run with node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not on PATH; the TypeScript check needs them (CI has them)")
    tsc = TYPESCRIPT / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        subprocess.run(  # noqa: S603
            ["npm", "ci", "--prefix", str(TYPESCRIPT), "--no-audit", "--no-fund", "--silent"],  # noqa: S607
            check=True,
            timeout=300,
        )
    out = tmp_path_factory.mktemp("ts-paging")
    code = API_LINE.sub(f'const API = "{API_SLOT}";', typescript_example())
    code = TOKEN_LINE.sub(f'const TOKEN = "{TOKEN_SLOT}";', code)
    source = out / "every_product.ts"
    source.write_text(code + TS_CHECKS, encoding="utf-8")
    config = out / "tsconfig.json"
    config.write_text(
        json.dumps(
            {
                "extends": str(TYPESCRIPT / "tsconfig.json"),
                "compilerOptions": {
                    "noEmit": False,
                    "outDir": str(out / "js"),
                    "lib": ["ES2022", "DOM", "DOM.Iterable"],
                    "moduleDetection": "force",
                },
                "files": [str(source)],
            }
        ),
        encoding="utf-8",
    )
    result = subprocess.run(  # noqa: S603
        [str(tsc), "-p", str(config), "--pretty", "false"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    script = out / "js" / "every_product.mjs"
    script.write_text((out / "js" / "every_product.js").read_text(encoding="utf-8"))
    return script


def fill_in(script: Path, api: str, token: str) -> Path:
    """A copy of the compiled script given the served API and `token`."""
    code = script.read_text(encoding="utf-8")
    assert code.count(TOKEN_SLOT) == 1
    assert code.count(API_SLOT) == 1
    run = script.with_name(f"run-{uuid.uuid4().hex}.mjs")
    run.write_text(code.replace(TOKEN_SLOT, token).replace(API_SLOT, api), encoding="utf-8")
    return run


async def run_ts(served: Served, script: Path, token: str) -> tuple[int, str, str]:
    """Run the compiled example with node (the served app keeps answering meanwhile)."""
    run = await asyncio.to_thread(fill_in, script, served.api, token)
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node, str(run), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_typescript_example_lists_every_page_with_its_filters(
    served: Served, compiled_ts: Path
) -> None:
    token = served.headers["Authorization"].removeprefix("Bearer ")
    status, out, err = await run_ts(served, compiled_ts, token)
    assert status == 0, err
    printed, newest, unknown = out.split("--\n")
    active = served.products[2:]
    # The example's own loop: every active product once, over three pages.
    assert printed.splitlines() == [f"{p['sku']} {p['name']}" for p in active]
    # Newest first with archived ones left out: kept on pages 2 and 3 too.
    assert newest.splitlines() == [p["id"] for p in reversed(active)]
    # An unknown filter: the generator throws with the status, no item yielded.
    assert unknown.splitlines() == [unknown.splitlines()[0]]
    assert unknown.startswith("refused Error: 422: ")


async def test_the_typescript_example_fails_on_a_refused_token_and_prints_nothing(
    served: Served, compiled_ts: Path
) -> None:
    status, out, err = await run_ts(served, compiled_ts, "not-a-token")
    assert status != 0
    assert out == ""
    assert "Error: 401: " in err
