"""Clients generated from the published OpenAPI document work as generated.

A Python client (openapi-python-client) logs in, creates a product and a location and posts a
movement with nothing but its own typed models and API functions; TypeScript types
(openapi-typescript run with the README's command, the npm project in tests/typescript) accept
valid bodies (a movement; bodies that leave out fields with defaults) and refuse invalid ones
under `tsc --noEmit`; strict code reads every member an answer always carries without an
`undefined` check, and must check those it carries only at times.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.main import create_app
from src.models.user import Role
from tests.support.factories import DEFAULT_PASSWORD, MakeUser
from tests.support.settings import make_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TYPESCRIPT = ROOT / "tests" / "typescript"
BASE_URL = "http://testserver"
PACKAGE = "stockroom_client"


@pytest.fixture(scope="module")
def openapi_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("openapi")
    app = create_app(make_settings("postgresql://unused/none", tmp))
    path = tmp / "openapi.json"
    path.write_text(json.dumps(app.openapi()), encoding="utf-8")
    return path


def test_the_movement_body_is_one_object_with_every_field(openapi_json: Path) -> None:
    schema = json.loads(openapi_json.read_text())["components"]["schemas"]["MovementCreate"]
    assert not {"oneOf", "anyOf", "allOf"} & schema.keys()
    assert list(schema["properties"]) == [
        "product_id",
        "location_id",
        "kind",
        "quantity",
        "reason",
        "reference",
        "note",
        "expected_on_hand",
    ]
    # The rules across fields are stated in words where a generator shows them.
    assert "required for an adjustment" in schema["properties"]["reason"]["description"]
    assert "positive" in schema["properties"]["quantity"]["description"]


# ------------------------------------------------------------------ Python: openapi-python-client


@pytest.fixture(scope="module")
def generated(openapi_json: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported; `generated("api.stock.post_movement")` imports a module
    of it."""
    out = tmp_path_factory.mktemp("python-client")
    config = out / "config.yml"
    # No post hooks: the default runs ruff over the output, which is slower and not needed.
    config.write_text("post_hooks: []\n", encoding="utf-8")
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(  # noqa: S603 - a fixed command from this environment
        [
            str(generator),
            "generate",
            "--path",
            str(openapi_json),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
async def transport(app: FastAPI) -> AsyncIterator[httpx.ASGITransport]:
    """The test's app (its work rolled back with the test), for the generated client's own
    httpx client: it then sets the Authorization header itself."""
    async with LifespanManager(app):
        yield httpx.ASGITransport(app=app)


def _token_form(generated: Any) -> Any:
    # The form body's class, whatever the generator names its schema: the type of the token
    # function's `body`, without `Unset`.
    annotation = inspect.signature(generated("api.auth.issue_token").asyncio).parameters["body"]
    unset = generated("types").Unset
    return next(t for t in typing.get_args(annotation.annotation) if t is not unset)


async def _log_in(generated: Any, transport: httpx.ASGITransport, email: str) -> Any:
    client = generated("client").Client(base_url=BASE_URL, httpx_args={"transport": transport})
    async with client:
        form = _token_form(generated)(
            grant_type="password", username=email, password=DEFAULT_PASSWORD
        )
        token = await generated("api.auth.issue_token").asyncio(client=client, body=form)
    assert isinstance(token, generated("models").TokenResponse), token
    return generated("client").AuthenticatedClient(
        base_url=BASE_URL, token=token.access_token, httpx_args={"transport": transport}
    )


async def _product_and_location(generated: Any, api: Any) -> tuple[Any, Any]:
    models = generated("models")
    product = await generated("api.products.create_product").asyncio(
        client=api, body=models.ProductCreate(sku="GEN-1", name="Generated widget")
    )
    assert isinstance(product, models.ProductRead), product
    location = await generated("api.locations.create_location").asyncio(
        client=api, body=models.LocationCreate(code="GEN", name="Generated store")
    )
    assert isinstance(location, models.LocationRead), location
    return product, location


async def test_the_generated_python_client_posts_a_movement(
    generated: Any, transport: httpx.ASGITransport, make_user: MakeUser
) -> None:
    models = generated("models")
    manager = await make_user(role=Role.MANAGER)
    async with await _log_in(generated, transport, manager.email) as api:
        product, location = await _product_and_location(generated, api)
        body = models.MovementCreate(
            product_id=product.id,
            location_id=location.id,
            kind=models.MovementKind.RECEIPT,
            quantity=12,
            reference="PO-77",
            note="dock 2",
        )
        posted = await generated("api.stock.post_movement").asyncio_detailed(
            client=api, body=body, idempotency_key="generated-client-1"
        )
        assert posted.status_code == 201
        movement = posted.parsed
        assert isinstance(movement, models.MovementRead), movement
        assert (movement.kind, movement.quantity, movement.balance_after) == (
            models.MovementKind.RECEIPT,
            12,
            12,
        )
        assert (movement.product_id, movement.location_id) == (product.id, location.id)
        assert posted.headers["location"].endswith(str(movement.id))

        stored = await generated("api.stock.get_movement").asyncio(
            client=api, movement_id=movement.id
        )
        assert isinstance(stored, models.MovementRead), stored
        assert (stored.reference, stored.note, stored.balance_after) == ("PO-77", "dock 2", 12)
        stock = await generated("api.products.get_product_stock").asyncio(
            client=api, product_id=product.id
        )
        assert isinstance(stock, models.ProductStockRead), stock
        assert stock.on_hand == 12
        assert [(level.location_id, level.on_hand) for level in stock.locations] == [
            (location.id, 12)
        ]


async def test_a_typed_movement_that_breaks_a_rule_gets_a_typed_problem(
    generated: Any, transport: httpx.ASGITransport, make_user: MakeUser
) -> None:
    models = generated("models")
    manager = await make_user(role=Role.MANAGER)
    async with await _log_in(generated, transport, manager.email) as api:
        product, location = await _product_and_location(generated, api)
        # The types allow it (the rule is in the description); the server refuses it.
        no_reason = models.MovementCreate(
            product_id=product.id,
            location_id=location.id,
            kind=models.MovementKind.ADJUSTMENT,
            quantity=3,
        )
        refused = await generated("api.stock.post_movement").asyncio_detailed(
            client=api, body=no_reason
        )
        assert refused.status_code == 422
        problem = refused.parsed
        assert isinstance(problem, models.Problem), problem
        assert problem.type_ == "/problems/validation-error"
        assert [(e.loc, e.msg) for e in problem.errors] == [
            (["body", "reason"], "An adjustment needs a reason")
        ]
        stock = await generated("api.products.get_product_stock").asyncio(
            client=api, product_id=product.id
        )
        assert (stock.on_hand, stock.locations) == (0, [])


async def test_the_generated_client_reports_refusals_in_their_types(
    generated: Any, transport: httpx.ASGITransport, make_user: MakeUser
) -> None:
    models = generated("models")
    viewer = await make_user(role=Role.VIEWER)
    async with generated("client").Client(
        base_url=BASE_URL, httpx_args={"transport": transport}
    ) as anonymous:
        form = _token_form(generated)(
            grant_type="password", username=viewer.email, password="not-the-password"
        )
        denied = await generated("api.auth.issue_token").asyncio(client=anonymous, body=form)
        assert isinstance(denied, models.OAuthErrorResponse), denied
        assert denied.error == models.OAuthErrorResponseError.INVALID_GRANT
        products = await generated("api.products.list_products").asyncio_detailed(client=anonymous)
        assert products.status_code == 401
        assert isinstance(products.parsed, models.Problem)
    async with await _log_in(generated, transport, viewer.email) as api:
        forbidden = await generated("api.products.create_product").asyncio_detailed(
            client=api, body=models.ProductCreate(sku="GEN-2", name="Not allowed")
        )
        assert forbidden.status_code == 403
        assert forbidden.parsed.type_ == "/problems/forbidden"
        listed = await generated("api.products.list_products").asyncio(client=api)
        assert listed.items == []


# ------------------------------------------------------------------ TypeScript: openapi-typescript

_DECLARATION = re.compile(r"^export const (\w+)")
_TS_ERROR = re.compile(r"invalid\.ts\((\d+),\d+\): error TS\d+: (.*)")

# What tsc must say about each declaration in invalid.ts.
_INVALID = {
    "noLocation": "Property 'location_id' is missing",
    "unknownKind": "Type '\"transfer\"' is not assignable",
    "textQuantity": "Type 'string' is not assignable to type 'number'",
    "extraField": "'created_by' does not exist in type",
    "unknownReason": "Type '\"theft\"' is not assignable",
    "nullUnit": "Type 'null' is not assignable to type 'string | undefined'",
    # Members an answer carries only at times: optional, never null.
    "deviceUnchecked": "Type 'string | undefined' is not assignable to type 'string'",
    "latencyUnchecked": "Type 'number | undefined' is not assignable to type 'number'",
    "productUnchecked": "'level.product' is possibly 'undefined'",
}


_README_COMMAND = re.compile(r"^npx (openapi-typescript) (\S+) -o (\S+)(.*)$", re.MULTILINE)


def readme_typescript_command(bin_dir: Path, openapi_json: Path, types: Path) -> list[str]:
    """The README's openapi-typescript command, as a reader would run it, with the local
    document and output in place of its URL and file name: the types checked here are the
    types the README tells people to generate."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = _README_COMMAND.findall(readme)
    assert len(found) == 1, found
    tool, _, _, options = found[0]
    return [str(bin_dir / tool), str(openapi_json), "-o", str(types), *options.split()]


def test_the_readme_typescript_command_keeps_defaulted_fields_optional() -> None:
    command = readme_typescript_command(Path("bin"), Path("openapi.json"), Path("api.d.ts"))
    assert command[-2:] == ["--default-non-nullable", "false"]


@pytest.fixture(scope="module")
def compiled(
    openapi_json: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """`tsc --noEmit` over valid.ts and invalid.ts against freshly generated types."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not on PATH; the TypeScript check needs them (CI has them)")
    bin_dir = TYPESCRIPT / "node_modules" / ".bin"
    if not (bin_dir / "tsc").exists():
        subprocess.run(  # noqa: S603
            ["npm", "ci", "--prefix", str(TYPESCRIPT), "--no-audit", "--no-fund", "--silent"],  # noqa: S607
            check=True,
            timeout=300,
        )
    out = tmp_path_factory.mktemp("typescript")
    types = out / "api.d.ts"
    subprocess.run(  # noqa: S603
        readme_typescript_command(bin_dir, openapi_json, types),
        check=True,
        capture_output=True,
        timeout=120,
    )
    running = {}
    for name in ("valid", "invalid"):
        # The project's strict tsconfig, with the generated types as the module "stockroom-api".
        config = out / f"tsconfig.{name}.json"
        config.write_text(
            json.dumps(
                {
                    "extends": str(TYPESCRIPT / "tsconfig.json"),
                    "compilerOptions": {"paths": {"stockroom-api": [str(types)]}},
                    "files": [str(TYPESCRIPT / f"{name}.ts")],
                }
            ),
            encoding="utf-8",
        )
        running[name] = subprocess.Popen(  # noqa: S603 - both at once: each takes seconds
            [str(bin_dir / "tsc"), "-p", str(config), "--pretty", "false"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    results = {}
    for name, process in running.items():
        output, _ = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, output)
    return results


def test_valid_bodies_and_answer_reads_type_check(
    compiled: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    assert compiled["valid"].returncode == 0, compiled["valid"].stdout


def test_invalid_bodies_and_unchecked_reads_do_not_type_check(
    compiled: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = compiled["invalid"]
    assert result.returncode != 0
    source = (TYPESCRIPT / "invalid.ts").read_text(encoding="utf-8").splitlines()
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if match := _TS_ERROR.search(line):
            declared = _DECLARATION.match(source[int(match[1]) - 1])
            assert declared, f"an error outside the declarations: {line}"
            errors.setdefault(declared[1], []).append(match[2])
    assert set(errors) == set(_INVALID), result.stdout
    for name, expected in _INVALID.items():
        assert any(expected in message for message in errors[name]), (name, errors[name])
