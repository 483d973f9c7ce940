"""Benchmark Ironclad as deployed: gunicorn over WSGI against PostgreSQL with 1,000,000 tasks.

    .venv/bin/python bench/run.py [--duration 10] [--json bench-result.json]

Creates (once) and seeds a PostgreSQL database, starts gunicorn with the deployed worker class,
and drives it with wrk from a separate process over loopback. Every scenario is reported next to a
bare Django JSON view measured by the same server in the same run, so the ratio holds on a noisy
machine. Exits non-zero when any request failed. See README "Benchmark".
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ORIGIN = "http://bench.localhost"

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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ironclad_bench"),
        help="PostgreSQL database to create if missing and seed (its name must contain 'bench')",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--port", type=int, default=8777)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args()


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    maintenance = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def server_environment(args: argparse.Namespace) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": args.database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BETTER_AUTH_SECRET": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FRONTEND_ORIGIN": ORIGIN,
        "SECURE_SSL_REDIRECT": "false",
        # The throttle runs as deployed but never trips: one user sends every request here.
        "THROTTLE_USER_RATE": "1000000/s",
    }


def start_server(args: argparse.Namespace, env: dict) -> subprocess.Popen:
    command = [
        PYTHON, "-m", "gunicorn", "ironclad.wsgi:application",
        "--bind", f"127.0.0.1:{args.port}",
        "--workers", str(args.workers),
        "--worker-class", args.worker_class,
        "--threads", str(args.worker_threads),
        "--log-level", "warning",
    ]  # fmt: skip
    # The request log lines go to a file, as a deployment's would go to its log collector.
    log = tempfile.NamedTemporaryFile("w", prefix="ironclad-bench-", suffix=".log", delete=False)  # noqa: SIM115
    print(f"server log: {log.name}")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/health", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not answer /health within 30 s")


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def run_wrk(args, url: str, headers: list[str], script: str | None, duration: int) -> dict:
    command = ["wrk", "--latency", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s"]
    for header in headers:
        command += ["-H", header]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script:
            lua.write(script)
            lua.flush()
            command += ["-s", lua.name]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": to_ms(latency["50"]),
        "p99_ms": to_ms(latency["99"]),
        "requests": requests,
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


def scenarios(seeded: dict) -> list[tuple[str, str, list[str], str | None]]:
    """(name, path, headers, lua script) in the order they run."""
    ids = ", ".join(map(str, seeded["toggle_ids"]))
    plan = [("bare Django JsonResponse", "/bench/bare", [], None)]
    for who, task_path, script in (
        ("reader", "/api/tasks?page_size=20", None),
        ("writer", "/api/tasks", SCRIPTS["create"]),
        ("toggler", "/api/tasks/{id}/complete", SCRIPTS["toggle"] % {"ids": ids}),
    ):
        action = {"reader": "task list, 20 rows", "writer": "task create", "toggler": "task toggle"}[who]
        cookie = seeded[who]["cookie"]
        plan.append((f"{action} (cookie)", task_path, [f"Cookie: {cookie}", f"Origin: {ORIGIN}"], script))
        plan.append((f"{action} (JWT)", task_path, [f"Authorization: Bearer {seeded[who]['jwt']}"], script))
    plan.append(("bare Django JsonResponse (again)", "/bench/bare", [], None))
    return plan


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    ensure_database(args.database_url)
    env = server_environment(args)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    started = time.monotonic()
    seeding = subprocess.run([PYTHON, "-m", "bench.seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded = json.loads(seeding.stdout)
    took = time.monotonic() - started
    print(f"seeded: {seeded['users']:,} users, {seeded['tasks']:,} tasks ({took:.0f} s)")

    server = start_server(args, env)
    results = []
    try:
        base = f"http://127.0.0.1:{args.port}"
        for name, path, headers, script in scenarios(seeded):
            run_wrk(args, base + path.replace("{id}", "1"), headers, script, duration=2)  # warm-up
            result = {"scenario": name, **run_wrk(args, base + path, headers, script, args.duration)}
            results.append(result)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    bare_rps = (results[0]["rps"] + results[-1]["rps"]) / 2
    print(
        f"\ngunicorn {args.workers} x {args.worker_class}, wrk {args.threads} thread(s) "
        f"{args.connections} connections {args.duration} s each, {os.cpu_count()} CPUs\n"
    )
    print(f"{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}")
    for result in results:
        result["ratio_to_bare"] = round(result["rps"] / bare_rps, 3)
        print(
            f"{result['scenario']:34} {result['rps']:8.0f} {result['p50_ms']:8.2f} {result['p99_ms']:8.2f} "
            f"{result['errors']:7d} {result['ratio_to_bare']:8.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"tasks": seeded["tasks"], "results": results}, indent=2))
    if any(result["errors"] for result in results):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
