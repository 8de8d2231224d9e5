"""The OpenAPI document is the API's contract with its users: a refactor must not move a byte
of it. `docs/openapi.json` is the stored copy; when the API changes on purpose, regenerate it
with `uv run python -m tests.unit.test_openapi_stored` and review the diff."""

from __future__ import annotations

import json
from pathlib import Path

from src.config import load_settings
from src.main import create_app

STORED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def rendered() -> str:
    app = create_app(load_settings(secret_key="openapi-" + "k" * 40 + "0123456789abcdef"))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def test_openapi_document_is_byte_identical_to_the_stored_copy() -> None:
    assert rendered() == STORED.read_text(encoding="utf-8"), (
        "the OpenAPI document changed; if on purpose, regenerate docs/openapi.json"
    )


if __name__ == "__main__":
    STORED.write_text(rendered(), encoding="utf-8")
