"""Ironclad started for a benchmark exactly as deployed: bin/docker-entrypoint.sh, DEBUG off.

A variant is a set of environment variables on top of the deployment's defaults, written like
"SERVER=gunicorn WEB_CONCURRENCY=5"; the empty variant is the default deployment. The settings
are the deployed ones plus one bare Django view (bench/settings.py), the yardstick.

The server may be another checkout of Ironclad (`--project`, e.g. a `git worktree` of an earlier
commit), started by its own entrypoint with this virtualenv, for before/after figures.
"""

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ORIGIN = "http://bench.localhost"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ironclad_bench"

# The bare Django view served by gunicorn with 2 sync workers: the yardstick of bench/run.py.
YARDSTICK = "SERVER=gunicorn GUNICORN_WORKER_CLASS=sync WEB_CONCURRENCY=2"


def add_server_arguments(
    parser: argparse.ArgumentParser, *, database_url: str, database_help: str, port: int
) -> None:
    """The options both benchmarks share: which database, which server settings, which checkout."""
    parser.add_argument("--database-url", default=database_url, help=database_help)
    parser.add_argument(
        "--variant",
        action="append",
        help='server settings to measure, e.g. "SERVER=gunicorn WEB_THREADS=4"; repeatable '
        "(default: the default deployment only)",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=ROOT,
        help="the checkout to serve (default: this one); e.g. a git worktree",
    )
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--json", type=Path, help="also write the results to this file")


def parse_variant(variant: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in shlex.split(variant)]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"a variant is NAME=value pairs, not {variant!r}")
    return dict(pairs)


def describe(variant: str, project: Path = ROOT) -> str:
    where = "" if project == ROOT else f" of {project}"
    return (variant or "default deployment") + where


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def _maintenance_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def ensure_database(url: str, *, fresh: bool = False) -> None:
    """Create the database if missing; with `fresh`, drop it first."""
    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(
            f"benchmark databases are dropped and truncated: the name must contain 'bench', not {name!r}"
        )
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def migrations_unknown_to(project: Path, url: str) -> list[str]:
    """Migrations of `project`'s apps applied to the database at `url` that `project` does not have:
    the database holds another checkout's schema (an index it added would serve this one too)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('django_migrations')").fetchone()
        applied = conn.execute("SELECT app, name FROM django_migrations").fetchall() if row and row[0] else []
    return sorted(
        f"{app}.{name}"
        for app, name in applied
        if (project / app / "migrations").is_dir()
        and not (project / app / "migrations" / f"{name}.py").exists()
    )


def database_connections(url: str) -> int:
    """Connections open to the benchmark's database right now (this query's own excluded)."""
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database_name(url)],
        ).fetchone()
    return row[0] if row else 0


def environment(database_url: str, port: int) -> dict[str, str]:
    """The server's environment: production settings, fresh secrets, plain HTTP on loopback.

    Server tuning variables inherited from this shell are dropped, so that a variant means the
    same thing whoever runs it."""
    tuning = ("SERVER", "WEB_", "GUNICORN_", "GRANIAN_", "DATABASE_POOL", "CHAT_PROVIDER")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(tuning)}
    return {
        **inherited,
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ENV_FILE": os.devnull,  # a developer's .env must not change what is measured
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BETTER_AUTH_SECRET": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FRONTEND_ORIGIN": ORIGIN,
        "HTTPS_ONLY": "false",
        "SECURE_SSL_REDIRECT": "false",  # what HTTPS_ONLY=false meant before it existed (--project)
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # One user creates tasks without end here: the quota is counted as deployed (up to it on
        # each create), but never reached.
        "QUOTA_TASKS": "10000000",
    }


def server_memory_mb(port: int) -> list[float]:
    """Resident memory, in MB, of each process of the server started with PORT=`port` (the server
    and its workers: they inherit its environment), largest first; read from /proc (Linux)."""
    wanted = f"PORT={port}".encode()
    sizes = []
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            environ = (process / "environ").read_bytes().split(b"\0")
            status = (process / "status").read_text()
        except OSError:  # gone meanwhile, or not ours
            continue
        if wanted not in environ or not any(item.startswith(b"DJANGO_SETTINGS_MODULE=") for item in environ):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sorted(sizes, reverse=True)


def with_variant(env: dict[str, str], variant: str) -> dict[str, str]:
    return {**env, **parse_variant(variant)}


def migrate(env: dict[str, str], project: Path = ROOT) -> None:
    """Apply `project`'s migrations (another checkout's, for a before/after comparison)."""
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=project, env=env, check=True)


@contextmanager
def running(env: dict[str, str], *, label: str, project: Path = ROOT) -> Iterator[str]:
    """The entrypoint started with `env`, its base URL while it runs; stopped with SIGTERM after.
    Its log (the request lines included, as a deployment's log collector would get them) goes to
    a file, named on stderr."""
    log = tempfile.NamedTemporaryFile("w", prefix="ironclad-bench-", suffix=".log", delete=False)  # noqa: SIM115
    print(f"{label}: server log {log.name}", file=sys.stderr, flush=True)
    server = subprocess.Popen(
        [str(project / "bin" / "docker-entrypoint.sh")],
        cwd=project,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_for_health(url, server, Path(log.name))
        yield url
    finally:
        stop(server)
        log.close()


def wait_for_health(url: str, server: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit(f"the server did not answer /health within {timeout:.0f} s; see {log}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
