"""The suite's layout (issue #24): integration tests sit in feature folders, each with a
conftest.py that says what it covers; shared helpers live in tests/support. A test module or
a conftest is never imported: a helper borrowed from one hides where it belongs, runs the
other module's fixtures (autouse ones too) where it is imported, and breaks when that module
is renamed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
INTEGRATION = TESTS / "integration"
# What may sit directly in tests/integration: the package and the fixtures of several folders.
INTEGRATION_FILES = {"__init__.py", "conftest.py"}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _is_test_module(name: str) -> bool:
    """A test module or a conftest, by its dotted name."""
    last = name.rpartition(".")[2]
    return last.startswith("test_") or last == "conftest"


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imported(module: str, source: str) -> set[str]:
    """Every module `source` (the text of `module`) imports, by dotted name (`from a import b`
    also names `a.b` where that is a module)."""
    package = module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names.add(base)
            names.update(
                f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")
            )
    return names


def _borrowed(module: str, source: str) -> list[str]:
    return sorted(
        name
        for name in _imported(module, source)
        if name.startswith("tests.") and _is_test_module(name)
    )


def _python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def test_the_check_sees_the_suite() -> None:
    names = {path.relative_to(TESTS).as_posix() for path in _python_files()}
    assert "unit/test_test_layout.py" in names
    assert "integration/conftest.py" in names
    assert any(name.startswith("support/") for name in names)
    assert len([name for name in names if name.startswith("integration/")]) > 100


def test_the_import_check_finds_a_borrowed_helper() -> None:
    module = "tests.integration.feed.test_probe"
    for source in (
        "from tests.integration.feed.test_feed import serving",
        "from tests.conftest import make_settings",
        "from tests.integration.feed import test_feed",
        "import tests.integration.conftest",
        "from .test_feed import serving",
        "from ..conftest import Headers",
    ):
        assert _borrowed(module, source), source
    assert not _borrowed(module, "from tests.support.apps import serving")
    assert not _borrowed(module, "from .conftest_helpers import x")


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    borrowing = {
        path.relative_to(ROOT).as_posix(): borrowed
        for path in _python_files()
        if (borrowed := _borrowed(_module_name(path), path.read_text(encoding="utf-8")))
    }
    assert not borrowing, (
        f"{borrowing}: move what they need to tests/support/ (helpers, constants, type "
        "aliases) or to the folder's conftest.py (fixtures)"
    )


def test_integration_tests_sit_in_feature_folders() -> None:
    loose = sorted(
        path.name
        for path in INTEGRATION.iterdir()
        if path.is_file() and path.suffix == ".py" and path.name not in INTEGRATION_FILES
    )
    assert not loose, f"in tests/integration/ itself, not in a feature folder: {loose}"


def _feature_folders() -> list[Path]:
    return sorted(
        path
        for path in INTEGRATION.iterdir()
        if path.is_dir() and not path.name.startswith(("_", "."))
    )


@pytest.mark.parametrize("folder", _feature_folders(), ids=lambda path: path.name)
def test_each_feature_folder_is_a_package_whose_conftest_says_what_it_covers(
    folder: Path,
) -> None:
    assert (folder / "__init__.py").is_file(), f"{folder.name}/__init__.py is missing"
    conftest = folder / "conftest.py"
    assert conftest.is_file(), f"{folder.name}/conftest.py is missing"
    docstring = ast.get_docstring(ast.parse(conftest.read_text(encoding="utf-8")))
    assert docstring, f"{folder.name}/conftest.py has no docstring saying what the folder covers"
    assert list(folder.glob("test_*.py")), f"{folder.name} holds no tests"
