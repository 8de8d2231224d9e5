"""Benchmark figures live in bench/README.md, not in the code: a docstring or comment in src/
says why the code is the way it is, and may name the bench/README.md section with the figures
(.ai/rules.md: docs kept true in one place). A figure such as "160 µs per request", "p99 of
110 ms" or "250 requests/s" in src/ fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A timing in micro- or milliseconds, a latency percentile with a figure, or a throughput.
FIGURE = re.compile(
    r"\d[\d,.]*\s?(?:-\s?\d[\d,.]*\s?)?(?:µs|us of CPU)\b"
    r"|\bp(?:50|90|95|99)\b[^\n]{0,40}?\d[\d,.]*\s?ms\b"
    r"|\d[\d,.]*\s?ms of CPU\b"
    r"|\d[\d,.]*\s?(?:req|requests)/s\b",
)


def _figures(text: str) -> list[str]:
    return [match.group(0) for match in FIGURE.finditer(text)]


def test_no_benchmark_figures_in_src() -> None:
    files = sorted((ROOT / "src").rglob("*.py"))
    assert len(files) > 100, "the scan should see the whole package"
    found = {
        path.relative_to(ROOT).as_posix(): figures
        for path in files
        if (figures := _figures(path.read_text(encoding="utf-8")))
    }
    assert found == {}, f"move these figures to bench/README.md: {found}"


def test_the_moved_figures_are_in_bench_readme() -> None:
    readme = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    for figure in ("166 to 70 ms", "about 110 ms", "160 to 210 µs", "about 100 µs per line"):
        assert figure in readme
    assert "## Request shape limits" in readme
    assert "1.7 s of event-loop time" in readme


@pytest.mark.parametrize(
    "text",
    [
        "Measured at 250 requests/s, that is 160-210 µs of CPU per request",
        "put p99 latency at ~110 ms under the benchmark's load",
        "cost about 0.1 ms of CPU per statement under load",
        "a ledger page paid ~70 us of CPU for it",
    ],
)
def test_the_check_catches_a_figure(text: str) -> None:
    assert _figures(text) != []


@pytest.mark.parametrize(
    "text",
    [
        'figures: bench/README.md, "Where each request\'s CPU goes"',
        "wakes coalesced for SSE_COALESCE_MS; timeout_ms=1000",
        "each takes ~0.1 s of CPU and 64 MiB",
    ],
)
def test_the_check_leaves_plain_text_alone(text: str) -> None:
    assert _figures(text) == []
