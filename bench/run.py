"""Benchmark Stockroom against a minimal reference app, side by side, in one run.

    uv run python bench/run.py [--seconds 10] [--concurrency 16] [--workers 1]
                               [--movements 200000] [--database-url postgresql://...]

Creates a scratch database (on a throwaway embedded PostgreSQL, or on the server named by
--database-url, dropped afterwards), migrates and seeds it with `stockroom seed-demo`,
creates a manager, starts `stockroom serve` and `bench/reference.py` (same uvicorn, same
number of workers), then drives each endpoint for --seconds at --concurrency against each
server and prints requests/s, p50 and p99 latency and the throughput ratio. The table is
also written to bench/results/latest.md. Everything started is stopped and removed at the
end, also on Ctrl-C or SIGTERM. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from bench import infra, load, profile, report, seed_stock
from bench.infra import Dataset, Server
from bench.scenarios import SCENARIOS, Scenario, Target
from src.core import migrations
from src.core.notifications import asyncpg_dsn

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Stockroom against a minimal Starlette + asyncpg reference.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--seconds", type=float, default=10.0, help="measured time per endpoint and server")
    add("--warmup", type=float, default=1.0, help="unmeasured warm-up before each measurement")
    add("--concurrency", type=int, default=16, help="virtual users (keep-alive connections)")
    add("--workers", type=int, default=1, help="uvicorn worker processes per server")
    add("--max-requests", type=int, default=1_000_000, help="cap per endpoint and server")
    add("--movements", type=int, default=200_000, help="ledger movements to seed")
    add("--products", type=int, default=1000, help="products to seed")
    add("--locations", type=int, default=20, help="locations to seed")
    add(
        "--database-url",
        help="a PostgreSQL server to create the scratch database on, e.g. "
        "postgresql://root@127.0.0.1:5432/postgres (default: a throwaway embedded server)",
    )
    add(
        "--pool",
        type=int,
        default=20,
        help="database connections each server worker keeps open (Stockroom's DB_POOL_SIZE"
        " with no overflow; the reference's asyncpg pool)",
    )
    add(
        "--rate-limit",
        default="1000000/second",
        help="RATE_LIMIT_DEFAULT and login limits for Stockroom (high enough never to bite)",
    )
    add("--log-level", default="INFO", help="Stockroom's LOG_LEVEL (its logs go to a file)")
    add(
        "--endpoints",
        default=",".join(s.name for s in SCENARIOS),
        help="comma-separated subset of: " + ", ".join(s.name for s in SCENARIOS),
    )
    add("--output", type=Path, default=RESULTS, help="where to write the Markdown table")
    add("--keep-logs", action="store_true", help="keep the servers' logs and print where")
    add(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample Stockroom with py-spy while each endpoint is measured; write the raw "
        "stacks and a table of where each request's CPU goes to DIR (py-spy takes CPU too: "
        "use the throughput of a profiled run for nothing else)",
    )
    args = parser.parse_args(argv)
    known = {s.name: s for s in SCENARIOS}
    wanted = [name.strip() for name in args.endpoints.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        parser.error(f"unknown --endpoints {unknown}; choose from {', '.join(known)}")
    args.scenarios = [known[name] for name in wanted]
    if args.concurrency < 1 or args.workers < 1 or args.seconds <= 0:
        parser.error("--concurrency and --workers must be at least 1, --seconds positive")
    return args


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM becomes SIGINT: inside an event loop asyncio then cancels the measurement
    # cleanly (connections closed) before KeyboardInterrupt reaches main().
    os.kill(os.getpid(), signal.SIGINT)


def _shape(status: int, body: bytes) -> Any:
    """What a response looks like, for comparing the two servers: status and field names."""
    try:
        data = json.loads(body)
    except ValueError:
        return status
    if isinstance(data, dict) and isinstance(data.get("items"), list) and data["items"]:
        return status, sorted(data), sorted(data["items"][0])
    return status, sorted(data) if isinstance(data, dict) else type(data).__name__


async def _probe(port: int, raw: bytes) -> tuple[int, bytes]:
    connection = load.HttpConnection(port)
    try:
        return await connection.request(raw)
    finally:
        await connection.close()


def check_endpoints(scenarios: list[Scenario], data: Dataset, targets: dict[str, Target]) -> None:
    """One request per endpoint to each server: both must succeed with the same fields."""
    for scenario in scenarios:
        shapes = {}
        for name, target in targets.items():
            make, _ = scenario.scripts(target, data, 1)[0]
            status, body = asyncio.run(_probe(target.port, make()))
            if not 200 <= status < 300:
                raise RuntimeError(f"{name}: {scenario.label} answered {status}: {body[:300]!r}")
            shapes[name] = _shape(status, body)
        if shapes["stockroom"] != shapes["reference"]:
            say(f"warning: {scenario.label}: responses differ: {shapes}")


def measure(
    args: argparse.Namespace,
    data: Dataset,
    targets: dict[str, Target],
    servers: dict[str, Server],
    stream_tokens: list[str],
) -> list[report.Row]:
    run = load.event_loop_runner()
    rows = []
    for index, scenario in enumerate(args.scenarios):
        # Alternate which server goes first, so slow drift in the machine's load (other
        # jobs, autovacuum, a growing ledger) does not always favour the same one.
        order = ["stockroom", "reference"] if index % 2 == 0 else ["reference", "stockroom"]
        results: dict[str, load.Result] = {}
        for name in order:
            target, process = targets[name], servers[name].process
            scripts = scenario.scripts(target, data, args.concurrency)
            sampler = None
            if args.profile and name == "stockroom" and process is not None:
                raw = args.profile / f"{scenario.name}.txt"
                sampler = profile.start(process.pid, args.warmup + args.seconds, raw)
            work = load.drive(
                target.port,
                scripts,
                seconds=args.seconds,
                warmup=args.warmup,
                max_requests=args.max_requests,
                server_pgid=process.pid if process else None,
            )
            streamed: list[int] = []
            if scenario.streams and name == "stockroom":
                raws = scenario.stream_requests(target.port, stream_tokens)
                outcome = run(load.with_streams(target.port, raws, work))
                assert isinstance(outcome, tuple)
                result, streamed = outcome
            else:
                result = run(work)
            assert isinstance(result, load.Result)
            results[name] = result
            if sampler is not None:
                _, errors = sampler.communicate(timeout=60)
                if sampler.returncode:
                    say(f"warning: py-spy failed: {errors.decode(errors='replace')[-300:]}")
                else:
                    cpu = result.cpu_ms_per_request
                    summary = profile.render(scenario.label, profile.summarise(raw, cpu), cpu)
                    (args.profile / f"{scenario.name}.md").write_text(summary, encoding="utf-8")
            say(
                f"{scenario.label:<52} {name:<9} {result.rate:8,.0f} req/s"
                f"  p50 {result.percentile(0.5):6.1f} ms  p99 {result.percentile(0.99):6.1f} ms"
                f"  errors {result.errors}  load {result.loadavg[1]:.1f}"
                + (_streamed(streamed) if streamed else "")
            )
        rows.append(report.Row(scenario.label, results["stockroom"], results["reference"]))
    return rows


def _streamed(per_stream: list[int]) -> str:
    ordered = sorted(per_stream)
    middle = ordered[len(ordered) // 2]
    return (
        f"  streams got {sum(ordered) / 1e6:.1f} MB"
        f" (per stream min {ordered[0] / 1e3:.0f} / median {middle / 1e3:.0f}"
        f" / max {ordered[-1] / 1e3:.0f} kB)"
    )


def settings_used(args: argparse.Namespace, data: Dataset, seeded: str) -> dict[str, str]:
    return {
        "command": "uv run python bench/run.py " + " ".join(sys.argv[1:]),
        "per endpoint and server": f"{args.warmup:g} s warm-up, then {args.seconds:g} s"
        f" (at most {args.max_requests:,} requests)",
        "concurrency": f"{args.concurrency} keep-alive connections, closed loop",
        "workers": f"{args.workers} uvicorn worker(s) per server (uvloop and httptools;"
        " Stockroom's with request limits)",
        "database": "server at --database-url (scratch database)"
        if args.database_url
        else "throwaway embedded PostgreSQL (Unix socket, default settings)",
        "data": f"{len(data.product_ids)} products, {len(data.levels)} stock levels,"
        f" {data.movements:,} movements; busiest product {data.deep_movements:,} movements"
        f" ({data.deep_movements // 20:,} pages of 20); {data.events:,} events in the feed",
        "seed": seeded,
        "stockroom": f"ENVIRONMENT=production, LOG_LEVEL={args.log_level} (to a file),"
        f" RATE_LIMIT_DEFAULT={args.rate_limit}, DB_POOL_SIZE={args.pool} per worker,"
        " no overflow",
        "reference": f"Starlette + asyncpg pool of {args.pool} per worker,"
        " no middleware, no logging",
        "client": "raw HTTP/1.1 on asyncio + uvloop, same process for both servers;"
        " order alternates per endpoint",
    }


def run(args: argparse.Namespace, stack: contextlib.ExitStack, workdir: Path) -> None:
    say("starting PostgreSQL" if not args.database_url else "connecting to PostgreSQL")
    admin_url = stack.enter_context(infra.postgres_server(args.database_url))
    url = stack.enter_context(infra.scratch_database(admin_url))
    say("migrating the scratch database")
    migrations.upgrade(url)
    secret_key = secrets.token_urlsafe(48)
    env = infra.base_env(url, secret_key, workdir)
    say(f"seeding {args.movements:,} movements (stockroom seed-demo)")
    seed_args = ["seed-demo", "--products", str(args.products), "--locations"]
    seed_args += [str(args.locations), "--movements", str(args.movements), "--seed", "1"]
    # The ledger alone: the feed's events are appended below, one per seeded movement.
    seed_args += ["--reservations", "0", "--shipments", "0"]
    seeded = infra.run_cli(seed_args, env, workdir, workdir / "seed.log")
    say(seeded)
    if any(scenario.name == "allocate" for scenario in args.scenarios):
        levels = asyncio.run(seed_stock.top_up(url))
        say(f"received {seed_stock.TOP_UP:,} at each of {levels:,} levels (for allocate)")
    say(f"appended {asyncio.run(infra.seed_events(url)):,} movement.created events to the feed")
    asyncio.run(infra.create_manager(url))
    data = asyncio.run(infra.dataset(url, secret_key))
    dsn, socket = asyncpg_dsn(url)
    reference_env = {**env, "REFERENCE_DSN": dsn, "REFERENCE_HOST": socket.get("host", "")}
    servers = {
        "stockroom": infra.stockroom_server(
            infra.free_port(),
            args.workers,
            env,
            rate_limit=args.rate_limit,
            pool=args.pool,
            log_level=args.log_level,
        ),
        "reference": infra.reference_server(
            infra.free_port(), args.workers, reference_env, args.pool
        ),
    }
    for server in servers.values():
        server.start(workdir)
        stack.callback(server.stop)
    for server in servers.values():
        server.wait_ready("/api/health")
    say(
        f"servers ready: stockroom on :{servers['stockroom'].port}, "
        f"reference on :{servers['reference'].port}"
    )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    token = infra.login(servers["stockroom"].port)
    client_token = ""
    if any(scenario.as_client for scenario in args.scenarios):
        client_token = infra.client_login(servers["stockroom"].port, args.rate_limit)
    run_id = secrets.token_hex(4)
    targets = {
        name: Target(name, s.port, token, run_id, client_token) for name, s in servers.items()
    }
    check_endpoints(args.scenarios, data, targets)
    stream_tokens = []
    if any(scenario.streams for scenario in args.scenarios):
        port = servers["stockroom"].port
        stream_tokens = [infra.login(port, email) for email in infra.STREAM_EMAILS]
    rows = measure(args, data, targets, servers, stream_tokens)
    facts = report.machine(data.postgres_version)
    settings = settings_used(args, data, seeded)
    print(report.render_text(rows, facts, settings))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.render_markdown(rows, facts, settings), encoding="utf-8")
    say(f"wrote {args.output}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Explicitly, in case we were started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="stockroom-bench-"))
    status = 0
    with contextlib.ExitStack() as stack:
        try:
            run(args, stack, workdir)
        except KeyboardInterrupt:
            status = 130
        except Exception as exc:
            say(f"error: {exc}")
            status = 1
        if status:
            # Cleaning up must not be cut short by a second Ctrl-C.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            say("stopping servers and removing the database")
    if args.keep_logs or status == 1:
        say(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
