""".ci/total.py: the last line of a CI run totals what really ran, from the runs' reports, and
never reads green for a red run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "total.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_total", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def junit(path: Path, *, tests: int, failures: int = 0, errors: int = 0, skipped: int = 0) -> None:
    path.write_text(
        "<?xml version='1.0' encoding='utf-8'?><testsuites>"
        f'<testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" '
        f'skipped="{skipped}" /></testsuites>',
        encoding="utf-8",
    )


def fuzz(results: Path, *, generated: int, with_failures: int = 0, status: int = 0) -> None:
    report = {
        "test_cases": {"generated": generated, "with_failures": with_failures, "errored": 0},
        "errors": [],
    }
    (results / "fuzz.json").write_text(json.dumps(report), encoding="utf-8")
    (results / "fuzz.rc").write_text(f"{status}\n", encoding="utf-8")


def total(results: Path, status: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = load().main(results, status)
    return code, capsys.readouterr().out.strip().splitlines()


def test_a_green_run_totals_checks_tests_and_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checks").write_text("passed ruff check\npassed mypy\n", encoding="utf-8")
    junit(tmp_path / "pytest-embedded.xml", tests=10, skipped=2)
    (tmp_path / "pytest-embedded.rc").write_text("0\n", encoding="utf-8")
    fuzz(tmp_path, generated=100)
    code, lines = total(tmp_path, 0, capsys)
    assert code == 0
    assert lines[-1] == "ci: 110 passed, 0 failed"  # 2 checks + 8 tests + 100 cases
    assert "ci: pytest (embedded): 8 passed, 0 failed; 2 skipped" in lines[-3]


def test_failed_tests_cases_and_checks_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checks").write_text("failed ruff check\n", encoding="utf-8")
    junit(tmp_path / "pytest-server.xml", tests=5, failures=1, errors=1)
    (tmp_path / "pytest-server.rc").write_text("1\n", encoding="utf-8")
    fuzz(tmp_path, generated=50, with_failures=3, status=1)
    code, lines = total(tmp_path, 0, capsys)
    assert code == 1
    assert lines[-1] == "ci: 50 passed, 6 failed"


def test_a_failure_without_a_failing_test_still_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit(tmp_path / "pytest-embedded.xml", tests=3)
    (tmp_path / "pytest-embedded.rc").write_text("1\n", encoding="utf-8")  # coverage under 90 %
    (tmp_path / "pytest-server.rc").write_text("2\n", encoding="utf-8")  # died before its report
    fuzz(tmp_path, generated=7, status=1)  # errors in the server's log
    code, lines = total(tmp_path, 0, capsys)
    assert code == 1
    assert lines[-1] == "ci: 10 passed, 3 failed"


def test_no_tests_collected_is_reported_not_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit(tmp_path / "pytest-embedded.xml", tests=0)
    (tmp_path / "pytest-embedded.rc").write_text("5\n", encoding="utf-8")
    code, lines = total(tmp_path, 0, capsys)
    assert code == 0
    assert "no tests collected" in lines[-2]
    assert lines[-1] == "ci: 0 passed, 0 failed"


def test_a_run_stopped_early_is_never_green(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = total(tmp_path, 3, capsys)
    assert code == 1
    assert lines[-1] == "ci: 0 passed, 1 failed"
