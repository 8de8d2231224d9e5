"""Where a request's CPU goes: py-spy samples the Stockroom server while an endpoint is
measured (`bench/run.py --profile DIR`), and the samples are split by what they were doing.

py-spy runs outside the server (`--nonblocking`: it never pauses the process), so the code
measured is the code shipped. Idle samples are left out, so the share of samples a component
takes is its share of the server's CPU; multiplied by the CPU per request the benchmark
measured from /proc, that gives microseconds per request.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RATE = 400  # samples per second: enough for a few thousand samples per endpoint

# (component, packages or modules) in order: a sample is charged to the component of its
# innermost frame (self time), so the table adds up to the whole CPU. A frame reads
# "function (path:line)"; the path starts with the top-level package (`fastapi/routing.py`,
# `src/api/middleware.py`, `asyncio/events.py`).
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    (
        "HTTP parsing and writing (h11, httptools, uvicorn)",
        ("h11", "httptools", "uvicorn", "src/core/http_protocol"),
    ),
    ("Stockroom's middleware", ("src/api/middleware", "src/api/head", "asgi_correlation_id")),
    (
        "logging (structlog, stdlib logging, JSON)",
        ("structlog", "logging", "json", "orjson", "src/core/logging"),
    ),
    ("rate limiting (limits)", ("limits", "src/core/ratelimit")),
    ("metrics (prometheus_client)", ("prometheus_client", "src/core/metrics")),
    ("JWT (PyJWT, hmac, hashlib)", ("jwt", "hmac", "hashlib", "src/core/tokens")),
    ("FastAPI routing, dependencies, serialisation", ("fastapi",)),
    ("Starlette (routing, requests, responses)", ("starlette", "sse_starlette")),
    ("pydantic validation and serialisation", ("pydantic", "pydantic_core")),
    ("SQLAlchemy (ORM, Core, compiled cache)", ("sqlalchemy",)),
    ("asyncpg (protocol, records)", ("asyncpg",)),
    ("Stockroom's routers, services, repositories, schemas", ("src",)),
    ("event loop, tasks, context managers", ("asyncio", "uvloop", "contextlib", "contextvars")),
    ("threads (limits' in-memory expiry timers)", ("threading", "concurrent")),
]
OTHER = "everything else (stdlib: uuid, datetime, typing, ...)"


def available() -> bool:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) is not None or bool(
        shutil.which("py-spy")
    )


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Sample `pid` (and its children: the uvicorn workers) for `seconds` into `output`."""
    binary = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    command = [binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    command += ["--rate", str(RATE), "--duration", str(max(1, math.floor(seconds)))]
    command += ["--format", "raw", "--function", "--output", str(output)]
    return subprocess.Popen(  # noqa: S603 - our own dev dependency
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@dataclass(frozen=True)
class Cost:
    name: str
    samples: int
    us_per_request: float


@dataclass(frozen=True)
class Profile:
    samples: int
    by_component: list[Cost]
    top_self: list[Cost]
    top_inclusive: list[Cost]


def _frames(stack: str) -> list[str]:
    # Raw format: "process;thread;outer (file);...;inner (file) count" per line.
    return [frame for frame in stack.split(";") if "(" in frame]


def _component(frame: str) -> str:
    path = frame.rpartition(" (")[2]
    package = path.split("/", 1)[0].split(".", 1)[0].split(":", 1)[0]
    for name, needles in COMPONENTS:
        for needle in needles:
            if package == needle or ("/" in needle and path.startswith(needle)):
                return name
    return OTHER


def summarise(raw: Path, cpu_ms_per_request: float, top: int = 12) -> Profile:
    """Split the samples in `raw` by component and by function, in µs per request."""
    by_component: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        by_component[_component(frames[-1])] += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            # Our own request path, inclusive of what it calls (not the CLI that started it).
            if " (src/" in frame and " (src/cli/" not in frame:
                inclusive[frame] += count

    def costs(counter: Counter[str], limit: int | None) -> list[Cost]:
        per_sample = cpu_ms_per_request * 1000 / total if total else 0.0
        return [
            Cost(name, samples, samples * per_sample)
            for name, samples in counter.most_common(limit)
        ]

    return Profile(total, costs(by_component, None), costs(self_time, top), costs(inclusive, top))


def render(label: str, profile: Profile, cpu_ms_per_request: float) -> str:
    lines = [
        f"### {label}",
        "",
        f"{profile.samples:,} samples; {cpu_ms_per_request * 1000:,.0f} µs of CPU per request.",
        "",
        "| where (innermost frame) | µs/req | share |",
        "| --- | ---: | ---: |",
    ]
    for cost in profile.by_component:
        share = cost.samples / profile.samples if profile.samples else 0.0
        lines.append(f"| {cost.name} | {cost.us_per_request:,.0f} | {share:.0%} |")
    lines += ["", "| top functions (self) | µs/req |", "| --- | ---: |"]
    lines += [f"| `{c.name}` | {c.us_per_request:,.0f} |" for c in profile.top_self]
    lines += ["", "| Stockroom's functions (inclusive) | µs/req |", "| --- | ---: |"]
    lines += [f"| `{c.name}` | {c.us_per_request:,.0f} |" for c in profile.top_inclusive]
    return "\n".join(lines) + "\n"
