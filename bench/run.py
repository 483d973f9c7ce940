"""Single-user throughput of Ironclad as deployed, against PostgreSQL with 1,000,000 tasks.

    .venv/bin/python bench/run.py [--duration 10] [--variant "SERVER=gunicorn" ...] [--json out.json]

Creates (once) and seeds a PostgreSQL database, starts Ironclad with bin/docker-entrypoint.sh
(the default deployment, or each --variant: environment variables on top of it), and drives it
with wrk from a separate process over loopback. The yardstick is a bare Django JSON view served
by gunicorn with 2 sync workers, measured at the start and at the end of the run; every scenario
is reported as a ratio to it, so the figures hold on a noisy machine. The limit is the same task
list answered by a minimal Django app (bench/limit.py: no middleware, no REST framework), served
with each variant's settings just before and just after Ironclad: "of limit" is Ironclad's list
(JWT) over the mean of the two. Exits non-zero when any request failed. See docs/performance.md.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also run as a script, not only with -m

from bench import deployed
from bench.deployed import ORIGIN, PYTHON, ROOT

SCRIPTS = {
    "create": """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "Benchmark task", "priority": "high", "tags": ["bench"]}'
""",
    "toggle": """
local ids = {%(ids)s}
request = function()
  return wrk.format("PATCH", "/api/tasks/" .. ids[math.random(#ids)] .. "/complete")
end
""",
}


MCP_CALL = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.body = '%s'
"""
MCP_MESSAGES = {
    "MCP tools/list": '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
    "MCP list_tasks, 50 rows": '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
    '"params": {"name": "list_tasks", "arguments": {}}}',
}

# wrk's --latency prints no 95th percentile: every run prints the percentiles it reports, in
# microseconds, from the same histogram.
PERCENTILES = """
done = function(summary, latency, requests)
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("percentile %d: %d us\\n", p, latency:percentile(p)))
  end
end
"""

# (name, path, headers, lua script)
Scenario = tuple[str, str, list[str], str | None]

BARE: Scenario = ("bare Django JsonResponse", "/bench/bare", [], None)
LIMIT_LIST = "minimal app: task list (JWT)"
IRONCLAD_LIST = "task list, 20 rows (JWT)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    deployed.add_server_arguments(
        parser,
        database_url=os.environ.get("BENCH_DATABASE_URL", deployed.DEFAULT_DATABASE_URL),
        database_help="PostgreSQL database to create if missing and seed (its name must contain 'bench')",
        port=8777,
    )
    add_wrk_arguments(parser, duration=10)
    return parser.parse_args()


def add_wrk_arguments(parser: argparse.ArgumentParser, *, duration: int) -> None:
    """How wrk drives a server, the options of both single-user benchmarks."""
    parser.add_argument(
        "--duration", type=int, default=duration, help=f"seconds per scenario (default {duration})"
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")


def found(pattern: str, text: str) -> re.Match[str]:
    """The first match of `pattern` in wrk's output, which must have it."""
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk's output has no {pattern!r}:\n{text}")
    return match


def run_wrk(
    args, url: str, headers: list[str], script: str | None, duration: int, *, timeout: int = 2
) -> dict:
    """wrk's figures for `url`; a request slower than `timeout` seconds counts as an error."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", f"--timeout={timeout}s"]
    for header in headers:
        command += ["-H", header]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write((script or "") + PERCENTILES)
        lua.flush()
        command += ["-s", lua.name]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency_us = {
        int(p): int(us) for p, us in re.findall(r"^percentile (\d+): (\d+) us$", output, re.MULTILINE)
    }
    requests = int(found(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(found(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency_us[50] / 1000,
        "p95_ms": latency_us[95] / 1000,
        "p99_ms": latency_us[99] / 1000,
        "requests": requests,
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


def serves_mcp(project: Path | None) -> bool:
    """Whether the checkout served has the MCP server (a --project from before it has not)."""
    return ((project or ROOT) / "chat" / "mcp_server.py").exists()


def scenarios(seeded: dict, *, mcp: bool) -> list[Scenario]:
    """(name, path, headers, lua script) in the order they run on each server."""
    ids = ", ".join(map(str, seeded["toggle_ids"]))
    plan = [BARE]
    for who, task_path, script in (
        ("reader", "/api/tasks?page_size=20", None),
        ("writer", "/api/tasks", SCRIPTS["create"]),
        ("toggler", "/api/tasks/{id}/complete", SCRIPTS["toggle"] % {"ids": ids}),
    ):
        action = {"reader": "task list, 20 rows", "writer": "task create", "toggler": "task toggle"}[who]
        cookie = seeded[who]["cookie"]
        plan.append((f"{action} (cookie)", task_path, [f"Cookie: {cookie}", f"Origin: {ORIGIN}"], script))
        plan.append((f"{action} (JWT)", task_path, [f"Authorization: Bearer {seeded[who]['jwt']}"], script))
    if mcp:
        reader = [f"Authorization: Bearer {seeded['reader']['jwt']}"]
        plan += [(f"{name} (JWT)", "/mcp", reader, MCP_CALL % body) for name, body in MCP_MESSAGES.items()]
    return plan


def measure(args, base: str, plan) -> list[dict]:
    results = []
    for name, path, headers, script in plan:
        run_wrk(args, base + path.replace("{id}", "1"), headers, script, duration=2)  # warm-up
        results.append({"scenario": name, **run_wrk(args, base + path, headers, script, args.duration)})
    return results


def limit(args, env: dict, seeded: dict, label: str) -> dict:
    """The task list of the minimal app (bench/limit.py), served with the same server settings."""
    minimal = {**env, "DJANGO_SETTINGS_MODULE": "bench.limit_settings"}
    plan = [(LIMIT_LIST, "/api/tasks", [f"Authorization: Bearer {seeded['reader']['jwt']}"], None)]
    with deployed.running(minimal, label=f"{label}: minimal app") as base:
        [result] = measure(args, base, plan)
    return result


def yardstick(args, env: dict, label: str) -> dict:
    with deployed.running(deployed.with_variant(env, deployed.YARDSTICK), label=label) as base:
        [result] = measure(args, base, [BARE])
    return {"server": deployed.YARDSTICK, **result}


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    deployed.ensure_database(args.database_url)
    env = deployed.environment(args.database_url, args.port)
    # The throttle runs as deployed but never trips: one user sends every request here.
    env["THROTTLE_USER_RATE"] = "1000000/s"
    deployed.migrate(env, args.project)
    started = time.monotonic()
    seeding = subprocess.run([PYTHON, "-m", "bench.seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded = json.loads(seeding.stdout)
    took = time.monotonic() - started
    print(f"seeded: {seeded['users']:,} users, {seeded['tasks']:,} tasks ({took:.0f} s)")

    first = yardstick(args, env, "yardstick")
    measured = []
    for variant in args.variant or [""]:
        label = deployed.describe(variant, args.project)
        served = deployed.with_variant(env, variant)
        # The minimal app (this checkout's) before and after: the two bracket Ironclad's minutes.
        first_limit = limit(args, served, seeded, label)
        with deployed.running(served, label=label, project=args.project) as base:
            results = measure(args, base, scenarios(seeded, mcp=serves_mcp(args.project)))
        results += [first_limit, limit(args, served, seeded, label)]
        measured.append((variant, results))
    last = yardstick(args, env, "yardstick (again)")

    bare_rps = (first["rps"] + last["rps"]) / 2
    print(
        f"\nwrk {args.threads} thread(s), {args.connections} connections, {args.duration} s per scenario, "
        f"{os.cpu_count()} CPUs; vs bare = requests/s over the yardstick's ({bare_rps:.0f})\n"
    )
    print(f"{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}")
    report: list[dict[str, Any]] = []
    for server, results in [(f"yardstick: {deployed.YARDSTICK}", [first, last])] + [
        (deployed.describe(variant, args.project), results) for variant, results in measured
    ]:
        print(server)
        for result in results:
            result["ratio_to_bare"] = round(result["rps"] / bare_rps, 3)
            print(
                f"  {result['scenario']:32} {result['rps']:8.0f} {result['p50_ms']:8.2f} "
                f"{result['p99_ms']:8.2f} {result['errors']:7d} {result['ratio_to_bare']:8.2f}"
            )
        limits = [result["rps"] for result in results if result["scenario"] == LIMIT_LIST]
        ironclad = [result["rps"] for result in results if result["scenario"] == IRONCLAD_LIST]
        if limits and ironclad:
            of_limit = ironclad[0] / (sum(limits) / len(limits))
            print(f"  {'of limit (task list, JWT / mean)':32} {of_limit:8.2f}")
            results.append({"scenario": "of limit", "ratio": round(of_limit, 3)})
        report.append({"server": server, "results": results})
    if args.json:
        args.json.write_text(
            json.dumps({"tasks": seeded["tasks"], "yardstick_rps": bare_rps, "runs": report}, indent=2)
        )
    if any(result.get("errors") for run in report for result in run["results"]):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
