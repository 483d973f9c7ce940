"""The cost of a task search in a large account, as deployed: is it bounded?

    .venv/bin/python bench/search.py [--duration 30] [--project /tmp/after] [--fresh] [--json out.json]

One user has 20,000 tasks with 2,000-character descriptions, among the 1,000,000 tasks of
bench/run.py's 10,000 users (bench/seed.py --search), in a database of its own. wrk sends that
user's search for a word no task contains, GET /api/tasks?search=<word> with a JWT, to Ironclad
started by bin/docker-entrypoint.sh (as bench/run.py does: the default deployment, or each
--variant, of this checkout or of --project). Prints requests/s and p50, p95 and p99 latency beside
bench/run.py's yardstick (the bare Django view under gunicorn, 2 sync workers, measured at the
start and at the end), and whether p95 is within the target. Exits non-zero when any request failed.

The served checkout migrates the database. Once a later checkout has added a migration, an earlier
one is refused (its figures would be measured on the later schema): --fresh drops the database and
seeds it again (about a minute). See docs/performance.md.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from argparse import ArgumentParser, Namespace, RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also run as a script, not only with -m

from bench import deployed, run
from bench.deployed import PYTHON, ROOT

TARGET_P95_MS = 50
# A slow search is measured, not counted as an error at wrk's default timeout of 2 s.
TIMEOUT_S = 30
# p95 from fewer requests than this is one of the slowest few: too few to quote.
ENOUGH_REQUESTS = 20


def parse_args() -> Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    deployed.add_server_arguments(
        parser,
        database_url=os.environ.get(
            "BENCH_SEARCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ironclad_bench_search"
        ),
        database_help="PostgreSQL database to create if missing and seed (its name must contain 'bench')",
        port=8779,
    )
    run.add_wrk_arguments(parser, duration=30)
    parser.add_argument("--fresh", action="store_true", help="drop the database first, and seed it again")
    return parser.parse_args()


def check_finds_nothing(url: str, headers: list[str]) -> None:
    """One search before wrk's: it must answer 200 and no task, or this is not the scenario named."""
    headers_by_name = dict(header.split(": ", 1) for header in headers)
    request = urllib.request.Request(url, headers=headers_by_name)  # noqa: S310 - the server it started
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            if response.status != 200 or response.url != url:
                sys.exit(f"{url} answered {response.status} from {response.url}, not 200")
            if total := json.load(response)["meta"]["total"]:
                sys.exit(f"{url} found {total} tasks: the term must match none")
    except urllib.error.HTTPError as error:
        sys.exit(f"{url} answered {error.code}, not 200: {error.read()[:300]!r}")


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    deployed.ensure_database(args.database_url, fresh=args.fresh)
    if later := deployed.migrations_unknown_to(args.project, args.database_url):
        sys.exit(f"the database has migrations {args.project} lacks ({', '.join(later)}): run with --fresh")
    env = deployed.environment(args.database_url, args.port)
    # The throttle runs as deployed but never trips: one user sends every request here.
    env["THROTTLE_USER_RATE"] = "1000000/s"
    deployed.migrate(env, args.project)
    started = time.monotonic()
    seeding = subprocess.run(
        [PYTHON, "-m", "bench.seed", "--search"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    seeded = json.loads(seeding.stdout)
    took = time.monotonic() - started
    print(
        f"seeded: {seeded['users']:,} users, {seeded['tasks']:,} tasks, {seeded['searcher_tasks']:,} "
        f"of them {seeded['searcher']}'s ({took:.0f} s)"
    )
    path = f"/api/tasks?search={quote(seeded['unmatched_term'])}"
    headers = [f"Authorization: Bearer {seeded['jwt']}"]

    first = run.yardstick(args, env, "yardstick")
    measured = []
    for variant in args.variant or [""]:
        label = deployed.describe(variant, args.project)
        with deployed.running(deployed.with_variant(env, variant), label=label, project=args.project) as base:
            check_finds_nothing(base + path, headers)
            search = run.run_wrk(args, base + path, headers, None, args.duration, timeout=TIMEOUT_S)
            measured.append(
                (label, {"scenario": f"search, {seeded['searcher_tasks']:,} tasks (JWT)", **search})
            )
    last = run.yardstick(args, env, "yardstick (again)")

    bare_rps = (first["rps"] + last["rps"]) / 2
    print(
        f"\nGET {path}, wrk {args.threads} thread(s), {args.connections} connections, {args.duration} s "
        f"per scenario, {os.cpu_count()} CPUs; vs bare = requests/s over the yardstick's ({bare_rps:.0f})\n"
    )
    print(
        f"{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'requests':>9} "
        f"{'errors':>7} {'vs bare':>8}"
    )
    report: list[dict[str, Any]] = []
    for server, results in [(f"yardstick: {deployed.YARDSTICK}", [first, last])] + [
        (label, [search]) for label, search in measured
    ]:
        print(server)
        for result in results:
            result["ratio_to_bare"] = round(result["rps"] / bare_rps, 5)
            print(
                f"  {result['scenario']:32} {result['rps']:8.1f} {result['p50_ms']:8.1f} "
                f"{result['p95_ms']:8.1f} {result['p99_ms']:8.1f} {result['requests']:9d} "
                f"{result['errors']:7d} {result['ratio_to_bare']:8.4f}"
            )
        report.append({"server": server, "results": results})
    print()
    for label, search in measured:
        search["target_met"] = search["p95_ms"] <= TARGET_P95_MS
        verdict = "PASS" if search["target_met"] else "FAIL"
        print(f"{verdict}: p95 {search['p95_ms']:,.1f} ms, target p95 <= {TARGET_P95_MS} ms ({label})")
        if search["requests"] < ENOUGH_REQUESTS:
            print(f"  only {search['requests']} requests answered: p95 needs a longer --duration")
    if args.json:
        searched = {key: seeded[key] for key in ("tasks", "searcher", "searcher_tasks", "unmatched_term")}
        args.json.write_text(json.dumps({**searched, "yardstick_rps": bare_rps, "runs": report}, indent=2))
    if any(result["errors"] for entry in report for result in entry["results"]):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
