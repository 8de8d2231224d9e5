"""`/api/v1` is spelled once, in src/api/v1/prefix.py; everything else builds on API_V1."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PREFIX = SRC / "api" / "v1" / "prefix.py"


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _hard_coded(path: Path) -> list[str]:
    """Lines where a string (or a literal part of an f-string) starts with the prefix."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and node.value.startswith("/api/v1")
        ):
            lines.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    return lines


def test_no_module_but_prefix_spells_out_the_api_prefix() -> None:
    offenders = [
        line for path in sorted(SRC.rglob("*.py")) if path != PREFIX for line in _hard_coded(path)
    ]
    assert offenders == []
    assert _hard_coded(PREFIX) == ["src/api/v1/prefix.py:1"]


def test_deps_imports_on_its_own() -> None:
    # deps reads the prefix from the v1 package, whose routers import deps: importing the
    # prefix must not drag the routers in (a circular import when deps is imported first).
    result = subprocess.run(
        [sys.executable, "-c", "import src.api.deps"],
        capture_output=True,
        text=True,
        check=False,
        cwd=SRC.parent,
    )
    assert result.returncode == 0, result.stderr
