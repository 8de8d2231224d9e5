"""The machine, the settings and the results, as a text table and as Markdown."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version

from bench.load import Result


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(postgres_version: str) -> dict[str, str]:
    cpus = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus (nproc)": f"{usable} ({cpus} online)",
        "cpu model": cpu_model(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "uvicorn": version("uvicorn"),
        "fastapi / starlette": f"{version('fastapi')} / {version('starlette')}",
        "sqlalchemy / asyncpg": f"{version('sqlalchemy')} / {version('asyncpg')}",
    }


@dataclass(frozen=True)
class Row:
    label: str
    stockroom: Result
    reference: Result

    @property
    def ratio(self) -> float:
        return self.stockroom.rate / self.reference.rate if self.reference.rate else math.nan


HEADERS = [
    "endpoint",
    "stockroom req/s",
    "p50 ms",
    "p99 ms",
    "reference req/s",
    "p50 ms",
    "p99 ms",
    "ratio",
]
CPU_HEADERS = [
    "endpoint",
    "stockroom CPU ms/req",
    "reference CPU ms/req",
    "client CPU ms/req (s / r)",
    "stockroom errors",
    "reference errors",
    "load avg (1 min)",
]


def cells(row: Row) -> list[str]:
    s, r = row.stockroom, row.reference
    return [
        row.label,
        f"{s.rate:,.0f}",
        f"{s.percentile(0.50):.1f}",
        f"{s.percentile(0.99):.1f}",
        f"{r.rate:,.0f}",
        f"{r.percentile(0.50):.1f}",
        f"{r.percentile(0.99):.1f}",
        f"{row.ratio:.2f}",
    ]


def _errors(result: Result) -> str:
    if not result.errors:
        return "0"
    bad = ", ".join(
        f"{status}: {n}" for status, n in sorted(result.statuses.items()) if status > 299
    )
    return f"{result.errors} ({bad})"


def _client(result: Result) -> str:
    return f"{1000 * result.client_cpu / result.requests:.2f}" if result.requests else "-"


def cpu_cells(row: Row) -> list[str]:
    s, r = row.stockroom, row.reference
    loads = [*s.loadavg, *r.loadavg]
    return [
        row.label,
        f"{s.cpu_ms_per_request:.2f}",
        f"{r.cpu_ms_per_request:.2f}",
        f"{_client(s)} / {_client(r)}",
        _errors(s),
        _errors(r),
        f"{min(loads):.1f} to {max(loads):.1f}",
    ]


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    align = ["---", *("---:" for _ in headers[1:])]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(values) + " |" for values in lines)


def render_text(rows: list[Row], facts: dict[str, str], settings: dict[str, str]) -> str:
    parts = [
        text_table(HEADERS, [cells(r) for r in rows]),
        "",
        text_table(CPU_HEADERS, [cpu_cells(r) for r in rows]),
        "",
        "machine:  " + "; ".join(f"{k} {v}" for k, v in facts.items()),
        "settings: " + "; ".join(f"{k} {v}" for k, v in settings.items()),
    ]
    return "\n".join(parts)


def render_markdown(rows: list[Row], facts: dict[str, str], settings: dict[str, str]) -> str:
    listing = "\n".join(f"- {k}: {v}" for k, v in facts.items())
    chosen = "\n".join(f"- {k}: {v}" for k, v in settings.items())
    return "\n".join(
        [
            "# Stockroom vs. reference",
            "",
            "Throughput and latency of Stockroom and of the minimal reference app"
            " (`bench/reference.py`), same requests, same run; ratio = Stockroom req/s ÷"
            " reference req/s.",
            "",
            markdown_table(HEADERS, [cells(r) for r in rows]),
            "",
            "CPU per request of the server (all its processes; PostgreSQL not included) and"
            " of the load generator, non-2xx answers, and the machine's 1-minute load average"
            " around the measurements:",
            "",
            markdown_table(CPU_HEADERS, [cpu_cells(r) for r in rows]),
            "",
            "## Machine",
            "",
            listing,
            "",
            "## Settings",
            "",
            chosen,
            "",
        ]
    )
