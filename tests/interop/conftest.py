"""Real processes for the interop tests: better-auth (Node) and Ironclad (gunicorn), each on a fresh
PostgreSQL database (the helpers they share with the other live tests are in tests/net.py).

These tests are live and need Node.js and PostgreSQL. They run with --live when DATABASE_URL points
at PostgreSQL (CI's PostgreSQL step) and skip with the reason otherwise; REQUIRE_INTEROP=1 (set by
.ci/run) turns a skip into an error.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.net import (
    ON_POSTGRES,
    ROOT,
    Server,
    free_port,
    manage_ok,
    postgres_admin_url,
    running,
    runs_live_tests,
    server_env,
    serving,
)

HARNESS = Path(__file__).resolve().parent / "harness"
SECRET = "interop-better-auth-secret-0123456789abcdef"


def _skip_reason() -> str | None:
    """Why the interop tests cannot run here, PostgreSQL aside (their `postgres` marker says that)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "interop tests need Node.js and npm on PATH"
    if ON_POSTGRES:
        try:
            psycopg.connect(postgres_admin_url(), connect_timeout=3).close()
        except psycopg.Error as error:
            return f"interop tests need a reachable PostgreSQL server: {error}"
    return None


def pytest_collection_modifyitems(config, items):
    interop = [item for item in items if "tests/interop" in str(item.fspath)]
    if not interop:
        return
    reason = _skip_reason()
    if os.environ.get("REQUIRE_INTEROP") == "1":
        if not ON_POSTGRES:
            reason = "interop tests need PostgreSQL: set DATABASE_URL=postgres://..."
        elif not runs_live_tests(config):
            reason = "interop tests are live: add --live"
        if reason:
            raise pytest.UsageError(f"REQUIRE_INTEROP=1 but {reason}")
    for item in interop:
        item.add_marker(pytest.mark.interop)
        item.add_marker(pytest.mark.live)
        item.add_marker(pytest.mark.postgres("better-auth's schema and Ironclad's share one database"))
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def harness_is_installed() -> bool:
    """Whether node_modules holds each dependency at the version package.json pins (an older
    checkout's node_modules does not count)."""
    pinned = json.loads((HARNESS / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        installed = HARNESS / "node_modules" / name / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != version:
            return False
    return True


@pytest.fixture(scope="session")
def harness() -> Path:
    """The Node harness with its locked dependencies installed."""
    if not harness_is_installed():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HARNESS, check=True, timeout=300)
    return HARNESS


def better_auth_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "BETTER_AUTH_SECRET": SECRET}


def ironclad_env(database_url: str, static_root: Path, **extra: str) -> dict[str, str]:
    """Ironclad as deployed (DEBUG off), on better-auth's secret, served on a free port."""
    return server_env(
        port=free_port(),
        database_url=database_url,
        static_root=static_root,
        BETTER_AUTH_SECRET=SECRET,
        SECRET_KEY="interop-django-secret-key-0123456789abcdef",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HTTPS_ONLY="false",
        **extra,
    )


@pytest.fixture
def start_better_auth(harness, tmp_path) -> Iterator:
    with ExitStack() as started:

        def start(database_url: str, port: int | None = None, **extra: str) -> Server:
            """better-auth on `port` (a free one by default), with `extra` in its environment
            (auth.mjs reads MCP_RESOURCE and ADD_MISSING_RESOURCE)."""
            port = port or free_port()
            env = {**better_auth_env(database_url), "PORT": str(port), **extra}
            log = tmp_path / f"better-auth-{port}.log"
            process = started.enter_context(
                running(
                    ["node", "server.mjs"],
                    env=env,
                    log=log,
                    cwd=harness,
                    ready=lambda: "READY" in log.read_text(),
                )
            )
            return Server(f"http://127.0.0.1:{port}", process, log, env)

        yield start


@pytest.fixture
def start_ironclad(tmp_path) -> Iterator:
    """Ironclad as deployed: gunicorn serving the WSGI application (on `PORT` when given)."""
    with ExitStack() as started:

        def start(database_url: str, **extra: str) -> Server:
            env = ironclad_env(database_url, tmp_path / "static", **extra)
            bind = f"127.0.0.1:{env['PORT']}"
            command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", bind, "-w", "1"]
            log = tmp_path / f"ironclad-{env['PORT']}.log"
            return started.enter_context(serving(command, env=env, log=log, cwd=ROOT))

        yield start


def manage(database_url: str, *args: str) -> str:
    """manage.py on `database_url`, as Ironclad is configured here; it must succeed."""
    return manage_ok(*args, **ironclad_env(database_url, ROOT / "staticfiles"))


def better_auth_migrate(harness: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", "migrate.mjs", *args],
        cwd=harness,
        env=better_auth_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
