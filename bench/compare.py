"""Two checkouts served side by side, measured in alternating rounds.

    .venv/bin/python bench/compare.py /tmp/before [--after .] [--rounds 6] [--duration 8]
        [--scenarios list,create,toggle,mixed]

bench/run.py measures one checkout after another, minutes apart: on a noisy machine, two runs of
the same code may differ by 5 % or more. Here both checkouts are served at once (the default
deployment) and wrk alternates between them, round by round and in alternating order, so that both
meet the same noise. Each checkout has its own database, migrated by its own code and seeded alike
(bench/seed.py), so that each is measured with exactly its own schema (its own triggers too); the
databases are kept for the next run (--fresh drops them, e.g. for another `before`). It
prints each round's requests/s and the ratio of the means: the task list with the cookie and with
a JWT, creating and toggling a task with a JWT, and bench/load.py's saturated mixed load (2,000
users, 1,000 connections, 85 % lists and 15 % creates; on databases of its own, made afresh for
each run). See docs/performance.md.
"""

import argparse
import json
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also run as a script, not only with -m

from bench import deployed, load
from bench.deployed import ORIGIN, PYTHON, ROOT
from bench.run import SCRIPTS, run_wrk

TASK_LIST = "/api/tasks?page_size=20"
MIXED = "mixed load, saturated"
# bench/load.py's saturated run: its users, connections and mix of lists and creates.
MIXED_USERS, MIXED_CONNECTIONS = 2000, 1000


def plans(seeded: dict) -> dict[str, list[tuple[str, str, list[str], str | None]]]:
    """Per scenario: (label, path, headers, wrk script) for one checkout's seeded users."""

    def jwt(who: str) -> list[str]:
        return [f"Authorization: Bearer {seeded[who]['jwt']}"]

    toggle = SCRIPTS["toggle"] % {"ids": ", ".join(map(str, seeded["toggle_ids"]))}
    return {
        "list": [
            (
                "task list, cookie",
                TASK_LIST,
                [f"Cookie: {seeded['reader']['cookie']}", f"Origin: {ORIGIN}"],
                None,
            ),
            ("task list, JWT", TASK_LIST, jwt("reader"), None),
        ],
        "create": [("task create, JWT", "/api/tasks", jwt("writer"), SCRIPTS["create"])],
        "toggle": [("task toggle, JWT", "/api/tasks/1/complete", jwt("toggler"), toggle)],
    }


def measure_mixed(base: str, credentials: list[dict], duration: int) -> dict:
    """bench/load.py's saturated run for `duration` seconds: requests/s and errors."""
    wrk = argparse.Namespace(threads=2)
    script = load.lua_script(credentials, f"compare {uuid.uuid4().hex[:8]}", think=None)
    result = load.run_wrk(wrk, base, script, duration, MIXED_CONNECTIONS)
    return {"rps": result["requests"] / (result["duration_us"] / 1e6), "errors": load.failed(result)}


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
    parser.add_argument(
        "--scenarios",
        default="list,create,toggle,mixed",
        help="of list, create, toggle, mixed (bench/load.py's saturated run, on databases of its own)",
    )
    parser.add_argument("--database-url", default=deployed.DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="drop both databases first (needed when `before` is another commit than last time)",
    )
    args = parser.parse_args()
    wrk = argparse.Namespace(threads=1, connections=8)
    checkouts = {"before": args.before.resolve(), "after": args.after.resolve()}

    chosen_scenarios = args.scenarios.split(",")
    measured = {}
    for which, port in (("before", 8781), ("after", 8782)):
        url = f"{args.database_url}_{which}"
        deployed.ensure_database(url, fresh=args.fresh)
        env = deployed.environment(url, port)
        # The throttle runs as deployed but never trips: one user sends every request here.
        env["THROTTLE_USER_RATE"] = "1000000/s"
        deployed.migrate(env, checkouts[which])
        seeding = subprocess.run(
            [PYTHON, "-m", "bench.seed"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        chosen = plans(json.loads(seeding.stdout))
        # Freshly seeded rows would otherwise be vacuumed (and analysed) during the measurement.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        steps = [step for name in chosen_scenarios if name != "mixed" for step in chosen[name]]
        measured[which] = (env, steps)
    mixed = {
        which: load.fresh_deployment(
            f"{args.database_url}_load_{which}", port, users=MIXED_USERS, project=checkouts[which]
        )
        for which, port in (("before", 8783), ("after", 8784))
        if "mixed" in chosen_scenarios
    }

    labels = [label for label, *_ in measured["after"][1]] + ([MIXED] if mixed else [])
    rps: dict[tuple[str, str], list[float]] = {(which, label): [] for which in checkouts for label in labels}
    with ExitStack() as servers:
        bases = {
            which: servers.enter_context(deployed.running(measured[which][0], label=which, project=project))
            for which, project in checkouts.items()
        }
        mixed_bases = {
            which: servers.enter_context(
                deployed.running(mixed[which][0], label=f"{which}, mixed load", project=checkouts[which])
            )
            for which in mixed
        }
        for which, base in bases.items():  # warm-up
            for _label, path, headers, script in measured[which][1]:
                run_wrk(wrk, base + path, headers, script, 2)
        for which, base in mixed_bases.items():
            measure_mixed(base, mixed[which][1], 3)
        for round_number in range(args.rounds):
            order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
            for which in order:
                for label, path, headers, script in measured[which][1]:
                    result = run_wrk(wrk, bases[which] + path, headers, script, args.duration)
                    if result["errors"]:
                        sys.exit(f"{result['errors']} requests failed on {which}: {label}")
                    rps[(which, label)].append(result["rps"])
                if which in mixed_bases:
                    result = measure_mixed(mixed_bases[which], mixed[which][1], args.duration)
                    if result["errors"]:
                        sys.exit(f"{result['errors']} requests failed on {which}: {MIXED}")
                    rps[(which, MIXED)].append(result["rps"])

    print(f"\nrequests/s per round ({args.rounds} x {args.duration} s, alternating)")
    for (which, label), values in rps.items():
        rounds = " ".join(f"{value:6.0f}" for value in values)
        print(f"  {which:6} {label:22} {rounds}   mean {sum(values) / len(values):6.0f}")
    for label in labels:
        before, after = (sum(rps[(which, label)]) / args.rounds for which in ("before", "after"))
        print(f"  {label}: after / before = {after / before:.3f}")


if __name__ == "__main__":
    main()
