"""The task list of two checkouts served side by side, measured in alternating rounds.

    .venv/bin/python bench/compare.py /tmp/before [--after .] [--rounds 6] [--duration 8]

bench/run.py measures one checkout after another, minutes apart: on a noisy machine, two runs of
the same code may differ by 5 % or more. Here both checkouts are served at once (the default
deployment, on the database bench/run.py seeds) and wrk alternates between them, round by round
and in alternating order, so that both meet the same noise. It prints each round's requests/s and
the ratio of the means, for the cookie and for the JWT. See docs/performance.md.
"""

import argparse
import json
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also run as a script, not only with -m

from bench import deployed
from bench.deployed import ORIGIN, PYTHON, ROOT
from bench.run import run_wrk

TASK_LIST = "/api/tasks?page_size=20"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "before", type=Path, help="a checkout, e.g. from `git worktree add /tmp/before <commit>`"
    )
    parser.add_argument("--after", type=Path, default=ROOT, help="the other checkout (default: this one)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement (default 8)")
    parser.add_argument("--database-url", default=deployed.DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    wrk = argparse.Namespace(threads=1, connections=8)

    deployed.ensure_database(args.database_url)
    environments = {}
    for which, port in (("before", 8781), ("after", 8782)):
        environments[which] = deployed.environment(args.database_url, port)
        # The throttle runs as deployed but never trips: one user sends every request here.
        environments[which]["THROTTLE_USER_RATE"] = "1000000/s"
    # One set of secrets, so that the seeded user's cookie and JWT hold on both.
    for name in ("SECRET_KEY", "BETTER_AUTH_SECRET"):
        environments["after"][name] = environments["before"][name]
    deployed.migrate(environments["before"])
    seeding = subprocess.run(
        [PYTHON, "-m", "bench.seed"], cwd=ROOT, env=environments["before"], check=True, capture_output=True
    )
    reader = json.loads(seeding.stdout)["reader"]
    credentials = {
        "cookie": [f"Cookie: {reader['cookie']}", f"Origin: {ORIGIN}"],
        "JWT": [f"Authorization: Bearer {reader['jwt']}"],
    }

    checkouts = {"before": args.before.resolve(), "after": args.after.resolve()}
    rps: dict[tuple[str, str], list[float]] = {
        (which, kind): [] for which in checkouts for kind in credentials
    }
    with ExitStack() as servers:
        bases = {
            which: servers.enter_context(deployed.running(environments[which], label=which, project=project))
            for which, project in checkouts.items()
        }
        for base in bases.values():  # warm-up
            for headers in credentials.values():
                run_wrk(wrk, base + TASK_LIST, headers, None, 2)
        for round_number in range(args.rounds):
            order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
            for which in order:
                for kind, headers in credentials.items():
                    result = run_wrk(wrk, bases[which] + TASK_LIST, headers, None, args.duration)
                    if result["errors"]:
                        sys.exit(f"{result['errors']} requests failed on {which}")
                    rps[(which, kind)].append(result["rps"])

    print(f"\ntask list, 20 rows: requests/s per round ({args.rounds} x {args.duration} s, alternating)")
    for (which, kind), values in rps.items():
        rounds = " ".join(f"{value:6.0f}" for value in values)
        print(f"  {which:6} {kind:6} {rounds}   mean {sum(values) / len(values):6.0f}")
    for kind in credentials:
        before, after = (sum(rps[(which, kind)]) / args.rounds for which in ("before", "after"))
        print(f"  {kind}: after / before = {after / before:.3f}")


if __name__ == "__main__":
    main()
