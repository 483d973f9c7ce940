"""Many users at once against Ironclad as deployed: latency, throughput, errors, lost writes.

    .venv/bin/python bench/load.py [--variant "SERVER=gunicorn" ...] [--think 1 3] [--json out.json]

For each variant (environment variables on top of the default deployment; by default only the
default deployment), on a fresh PostgreSQL database: USERS users with live better-auth sessions and
50 tasks each; Ironclad started by bin/docker-entrypoint.sh; then wrk holds CONNECTIONS
connections open, and every request picks a random user and credential (half session cookies
with the trusted Origin, half JWTs): 85 % task list pages (plain, status=pending,
ordering=-priority&page_size=10, search=report), 15 % creates. Two runs:

- think time: each connection waits 1-3 s between requests, as people do (about 500 requests/s
  offered by 1,000 connections);
- saturated: no waiting, as many requests as the server answers.

Each prints requests/s, p50/p95/p99 latency, errors (non-2xx answers and socket errors), lost
writes (201 answers without a row in the table), the most PostgreSQL connections seen, and the
CPU the load generator itself used (to show it is not the limit); and, after the saturated run, the
resident memory of each of the server's processes. See docs/performance.md.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also run as a script, not only with -m

from bench import deployed
from bench.deployed import ORIGIN, PYTHON, ROOT

LIST_PATHS = (
    "/api/tasks",
    "/api/tasks?status=pending",
    "/api/tasks?ordering=-priority&page_size=10",
    "/api/tasks?search=report",
)
CREATE_SHARE = 0.15

# wrk's Lua: `setup` and `done` run in the main state, the rest in each thread's own state.
# Latencies are measured from when a request is written, so think time is not counted in them.
LUA = """
local credentials = {%(credentials)s}
local lists = {%(lists)s}
local origin = "%(origin)s"
local create_body = '{"title": "%(marker)s", "priority": "high", "tags": ["load"]}'
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
  statuses = {}
end

%(delay)s

function request()
  local user = credentials[math.random(#credentials)]
  local headers = {}
  if math.random() < 0.5 then
    headers["Cookie"] = user[1]
    headers["Origin"] = origin
  else
    headers["Authorization"] = "Bearer " .. user[2]
  end
  if math.random() < %(create_share)s then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/tasks", headers, create_body)
  end
  return wrk.format("GET", lists[math.random(#lists)], headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[#counts + 1] = string.format('"%%d": %%d', status, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'LOAD {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "socket_errors": %%d, "timeouts": %%d, "statuses": {%%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect + e.read + e.write, e.timeout,
    table.concat(counts, ", ")))
end
"""
THINK = "function delay()\n  return math.random(%(low)d, %(high)d)\nend"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    deployed.add_server_arguments(
        parser,
        database_url=os.environ.get(
            "BENCH_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ironclad_bench_load"
        ),
        database_help="PostgreSQL database, dropped and created for each variant (its name contains 'bench')",
        port=8778,
    )
    parser.add_argument("--users", type=int, default=2000, help="users with a live session (default 2000)")
    parser.add_argument("--connections", type=int, default=1000, help="client connections (default 1000)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(1.0, 3.0),
        metavar=("LOW", "HIGH"),
        help="seconds each connection waits between requests, at random between the two (default 1 3)",
    )
    parser.add_argument(
        "--think-duration", type=int, default=60, help="seconds of the think-time run (default 60)"
    )
    parser.add_argument(
        "--saturated-duration", type=int, default=30, help="seconds of the saturated run (default 30)"
    )
    return parser.parse_args()


def lua_script(credentials: list[dict], marker: str, *, think: tuple[float, float] | None) -> str:
    return LUA % {
        "credentials": ",\n".join(f'{{"{c["cookie"]}", "{c["jwt"]}"}}' for c in credentials),
        "lists": ", ".join(f'"{path}"' for path in LIST_PATHS),
        "origin": ORIGIN,
        "marker": marker,
        "delay": THINK % {"low": think[0] * 1000, "high": think[1] * 1000} if think else "",
        "create_share": CREATE_SHARE,
    }


class ConnectionWatch(threading.Thread):
    """Samples how many PostgreSQL connections the server holds, twice a second."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.most = 0
        self.finished = threading.Event()

    def run(self) -> None:
        while not self.finished.wait(0.5):
            self.most = max(self.most, deployed.database_connections(self.database_url))

    def stop(self) -> int:
        self.finished.set()
        self.join()
        return self.most


def run_wrk(args, base: str, script: str, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = [
            "wrk", f"-t{args.threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
            "-s", lua.name, base,
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in output.splitlines() if line.startswith("LOAD "))
    result = json.loads(line.removeprefix("LOAD "))
    result["statuses"] = {int(status): n for status, n in result["statuses"].items()}
    result["generator_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def created_rows(database_url: str, marker: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM task WHERE title = %s", [marker]).fetchone()
    return row[0] if row else 0


def phase(args, base: str, credentials: list[dict], *, name: str, think, duration: int) -> dict:
    marker = f"load {name} {uuid.uuid4().hex[:8]}"
    watch = ConnectionWatch(args.database_url)
    watch.start()
    result = run_wrk(args, base, lua_script(credentials, marker, think=think), duration, args.connections)
    result["most_database_connections"] = watch.stop()
    seconds = result["duration_us"] / 1e6
    created = result["statuses"].get(201, 0)
    rows = created_rows(args.database_url, marker)
    return {
        "run": name,
        "rps": result["requests"] / seconds,
        "p50_ms": result["p50_us"] / 1000,
        "p95_ms": result["p95_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "errors": failed(result),
        "created": created,
        "rows": rows,
        "lost_writes": max(0, created - rows),
        "statuses": result["statuses"],
        "most_database_connections": result["most_database_connections"],
        # Share of one CPU the load generator used while the run lasted.
        "generator_cpu": result["generator_cpu_s"] / seconds,
    }


def fresh_deployment(
    database_url: str, port: int, *, users: int, variant: str = "", project: Path = ROOT
) -> tuple[dict[str, str], list[dict]]:
    """The load's database dropped and made again, migrated by `project` and seeded with `users`
    users: the server's environment (with `variant`) and the users' credentials."""
    deployed.ensure_database(database_url, fresh=True)
    env = deployed.with_variant(deployed.environment(database_url, port), variant)
    deployed.migrate(env, project)
    seeding = subprocess.run(
        [PYTHON, "-m", "bench.seed", "--load", str(users)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env, json.loads(seeding.stdout)["credentials"]


def failed(result: dict) -> int:
    """Requests of a run_wrk result that failed: answers other than 2xx, socket errors, timeouts."""
    answered_ok = sum(n for status, n in result["statuses"].items() if 200 <= status < 300)
    return sum(result["statuses"].values()) - answered_ok + result["socket_errors"] + result["timeouts"]


def measure(args, variant: str) -> list[dict]:
    env, credentials = fresh_deployment(
        args.database_url, args.port, users=args.users, variant=variant, project=args.project
    )
    with deployed.running(env, label=deployed.describe(variant), project=args.project) as base:
        warm_up = lua_script(credentials, "load warm-up", think=None)
        run_wrk(args, base, warm_up, duration=5, connections=32)
        runs = [
            phase(args, base, credentials, name="think time", think=args.think, duration=args.think_duration),
            phase(args, base, credentials, name="saturated", think=None, duration=args.saturated_duration),
        ]
        runs[-1]["memory_mb"] = deployed.server_memory_mb(args.port)
        return runs


def print_rows(server: str, runs: list[dict]) -> None:
    print(server)
    for run in runs:
        print(
            f"  {run['run']:10} {run['rps']:7.0f} {run['p50_ms']:8.1f} {run['p95_ms']:8.1f} "
            f"{run['p99_ms']:8.1f} {run['errors']:7d} {run['created']:6d} {run['lost_writes']:5d} "
            f"{run['most_database_connections']:8d} {run['generator_cpu']:7.0%}"
        )
        others = {status: n for status, n in run["statuses"].items() if status not in (200, 201)}
        if others:
            print(f"    answers other than 200/201: {others}")
        if "memory_mb" in run:
            sizes = ", ".join(f"{size:.0f}" for size in run["memory_mb"])
            print(f"    resident memory after it, per process (MB): {sizes}")
    print(flush=True)


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    print(
        f"{args.users:,} users, {args.connections:,} connections (wrk, {args.threads} threads), "
        f"think time {args.think[0]:g}-{args.think[1]:g} s for {args.think_duration} s, "
        f"then saturated for {args.saturated_duration} s; "
        f"{os.cpu_count()} CPUs\n"
        f"{'run':12} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'201s':>6} {'lost':>5} {'db conns':>8} {'wrk cpu':>8}\n",
        flush=True,
    )
    report: list[dict[str, Any]] = []
    for variant in args.variant or [""]:
        runs = measure(args, variant)
        print_rows(deployed.describe(variant, args.project), runs)
        report.append({"server": deployed.describe(variant, args.project), "runs": runs})
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if any(run["errors"] or run["lost_writes"] for server in report for run in server["runs"]):
        sys.exit("some requests failed or some writes were lost")


if __name__ == "__main__":
    main()
