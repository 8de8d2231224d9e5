"""Total what a `.ci/run` really ran, from the runs' own reports, and print it last.

Usage: total.py RESULTS_DIR EXIT_STATUS

RESULTS_DIR holds what the steps left behind:
- `checks`: one line per static check, `passed NAME` or `failed NAME`;
- `pytest-*.xml` and `pytest-*.rc`: each pytest run's JUnit XML and exit status;
- `fuzz.json` and `fuzz.rc`: Schemathesis' JSON report and .ci/fuzz's exit status.

Every check counts once, every pytest test once (skipped ones are reported, not counted),
every Schemathesis case once. A step that failed without a failing test or case to show for
it (coverage under its threshold, errors in the server's log, a crash before any report, a
run stopped early) counts as one failure, so the total never reads green for a red run.
Standard library only: it runs even when the tools could not be installed.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NO_TESTS_COLLECTED = 5  # pytest's exit status when it ran nothing


class Total:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.lines: list[str] = []

    def add(self, label: str, passed: int, failed: int, extra: str = "") -> None:
        self.passed += passed
        self.failed += failed
        self.lines.append(f"ci: {label}: {passed} passed, {failed} failed{extra}")


def exit_status(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def checks(results: Path, total: Total) -> None:
    path = results / "checks"
    if not path.exists():
        return
    outcomes = [line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines()]
    failed = [name for outcome, name in outcomes if outcome == "failed"]
    passed = len(outcomes) - len(failed)
    extra = f" ({', '.join(failed)})" if failed else ""
    total.add(f"{len(outcomes)} static checks", passed, len(failed), extra)


def pytest_run(xml_path: Path, total: Total) -> None:
    name = f"pytest ({xml_path.stem.removeprefix('pytest-')})"
    status = exit_status(xml_path.with_suffix(".rc"))
    tests = failures = skipped = 0
    try:
        root = ET.parse(xml_path).getroot()  # noqa: S314 - our own pytest run wrote it
    except (OSError, ET.ParseError):
        root = None
    if root is not None:
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            tests += int(suite.get("tests", 0))
            failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
    passed = tests - failures - skipped
    notes = []
    if skipped:
        notes.append(f"{skipped} skipped (reasons above, in pytest's summary)")
    if status == NO_TESTS_COLLECTED:
        notes.append("no tests collected")
    elif status != 0 and failures == 0:
        # Coverage under its threshold, a crash, or no report at all.
        failures = 1
        notes.append(f"exit status {status} with no failed test: see its output above")
    total.add(name, passed, failures, f"; {'; '.join(notes)}" if notes else "")


def fuzz_run(results: Path, total: Total) -> None:
    status = exit_status(results / "fuzz.rc")
    if status is None:
        return  # the fuzz run never started
    try:
        report = json.loads((results / "fuzz.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    passed = failed = 0
    notes = []
    if report is not None:
        cases = report["test_cases"]
        failed = cases["with_failures"] + cases["errored"]
        passed = cases["generated"] - failed
        failed += sum(error["count"] for error in report.get("errors", []))
    if status != 0 and failed == 0:
        failed = 1
        notes.append(f"exit status {status} with no failed case: see its output above")
    total.add("schemathesis cases", passed, failed, f"; {'; '.join(notes)}" if notes else "")


def main(results: Path, status: int) -> int:
    total = Total()
    checks(results, total)
    for xml_path in sorted(results.glob("pytest-*.xml")):
        pytest_run(xml_path, total)
    for rc_path in sorted(results.glob("pytest-*.rc")):
        if not rc_path.with_suffix(".xml").exists():  # pytest died before writing its report
            name = f"pytest ({rc_path.stem.removeprefix('pytest-')})"
            total.add(name, 0, 1, f"; exit status {exit_status(rc_path)}, no report")
    fuzz_run(results, total)
    if status != 0 and total.failed == 0:
        total.add("the run", 0, 1, f"; stopped early with exit status {status}")
    print()
    for line in total.lines:
        print(line)
    print(f"ci: {total.passed} passed, {total.failed} failed")
    return 1 if total.failed or status else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
