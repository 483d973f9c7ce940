"""Resilience (issue 5, item 5): a PostgreSQL outage is a JSON 503, and the same processes recover.

The test owns a throwaway PostgreSQL cluster (initdb in a temp dir, its own port, trust auth,
127.0.0.1 only), serves Ironclad from it as deployed (`python -m config.serve`, the default
server, DEBUG off), stops the cluster under the running server and starts it again. It is live and
runs in CI's PostgreSQL pass (--live, DATABASE_URL=postgres://...) and skips elsewhere;
REQUIRE_INTEROP=1 (set by .ci/run) turns a skip on PostgreSQL into an error. initdb and pg_ctl
refuse to run as root, so as root they run as the `postgres` OS user.
"""

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
import pytest

from accounts.authentication import sign_session_token
from tests.net import (
    ON_POSTGRES,
    Response,
    Server,
    answers_health,
    free_port,
    migrate,
    running,
    send,
    send_json,
    server_env,
)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "outage-better-auth-secret-0123456789abcdef"
# Enough for one request to fail: the app's connect_timeout is 5 s and a stopped server refuses at once.
OUTAGE_ANSWER_WITHIN = 10.0
PG_OS_USER = "postgres"


def _pg_bindir() -> Path | None:
    candidates = ["/usr/lib/postgresql/15/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _skip_reason() -> str | None:
    """Why the test cannot run here, PostgreSQL aside (its `postgres` marker says that)."""
    if _pg_bindir() is None:
        return "the outage test needs PostgreSQL's initdb and pg_ctl (e.g. /usr/lib/postgresql/15/bin)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            return f"initdb refuses to run as root and there is no {PG_OS_USER!r} OS user to run it as"
        if shutil.which("runuser") is None:
            return "initdb refuses to run as root and runuser is missing"
    return None


_SKIP_REASON = _skip_reason() if ON_POSTGRES else None
if _SKIP_REASON and os.environ.get("REQUIRE_INTEROP") == "1":
    raise RuntimeError(f"REQUIRE_INTEROP=1 but {_SKIP_REASON}")

pytestmark = [
    pytest.mark.live,
    pytest.mark.postgres("outages are proven on PostgreSQL"),
    pytest.mark.skipif(_SKIP_REASON is not None, reason=_SKIP_REASON or ""),
]


# --- helpers -----------------------------------------------------------------------------------


def http(method: str, url: str, *, token: str, json_body=None) -> Response:
    headers = {"Authorization": f"Bearer {token}"}
    if json_body is None:
        return send(method, url, None, headers)
    return send_json(method, url, json_body, headers)


@dataclass
class Cluster:
    """A PostgreSQL cluster in a temp dir, on its own port, started and stopped by the test."""

    bindir: Path
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_OS_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.directory)
        output = f"{result.stdout}\n{result.stderr}\n{self.log_text()}"
        assert result.returncode == 0, f"{args[0]} failed:\n{output}"

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def start(self) -> None:
        self.run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "stop", "-w", "-t", "30", "-m", mode, "-D", str(self.data))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    directory = Path(tempfile.mkdtemp(prefix="ironclad-outage-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(PG_OS_USER)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    bindir = _pg_bindir()
    assert bindir is not None  # the module is skipped otherwise
    cluster = Cluster(bindir, directory, free_port())
    try:
        cluster.run(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {cluster.port}\n"
                f"unix_socket_directories = '{directory}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            try:
                cluster.stop("immediate")
            except (AssertionError, subprocess.TimeoutExpired):
                # The postmaster we started; SIGQUIT is PostgreSQL's immediate shutdown.
                with contextlib.suppress(OSError, ValueError):
                    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(directory, ignore_errors=True)


def _env(cluster: Cluster, **extra: str) -> dict[str, str]:
    """Ironclad as deployed (DEBUG off) on the cluster's `postgres` database, on a free port."""
    return server_env(
        port=free_port(),
        database_url=cluster.url(),
        static_root=cluster.directory / "static",
        BETTER_AUTH_SECRET=SECRET,
        HTTPS_ONLY="false",
        **extra,
    )


@pytest.fixture(scope="module")
def database(cluster) -> str:
    """The cluster's `postgres` database, migrated, as a DATABASE_URL."""
    migrate(_env(cluster), cwd=ROOT)
    return cluster.url()


@pytest.fixture
def token(database) -> str:
    """A signed better-auth session token for a user inserted straight into the database."""
    user_id, session_token = uuid.uuid4().hex, uuid.uuid4().hex
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            'INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") '
            "VALUES (%s, 'Outage', %s, true, now(), now())",
            [user_id, f"{user_id}@example.com"],
        )
        conn.execute(
            'INSERT INTO "session" (id, token, "userId", "expiresAt", "createdAt", "updatedAt") '
            "VALUES (%s, %s, %s, now() + interval '1 day', now(), now())",
            [uuid.uuid4().hex, session_token, user_id],
        )
    return sign_session_token(session_token, SECRET)


def worker_pids(log: Path) -> set[str]:
    return set(re.findall(r"Spawning worker-\d+ with PID: (\d+)", log.read_text()))


@pytest.fixture
def start_server(cluster, database, tmp_path) -> Iterator:
    """Ironclad as deployed: the default server (config/serve.py) with two workers, on a port
    of its own."""
    if not cluster.is_running():  # an earlier test failed during its outage
        cluster.start()

    with ExitStack() as started:

        def start(**extra: str) -> Server:
            env = _env(cluster, WEB_CONCURRENCY="2", **extra)
            url, log = f"http://127.0.0.1:{env['PORT']}", tmp_path / f"server-{env['PORT']}.log"

            def ready() -> bool:
                return len(worker_pids(log)) >= 2 and answers_health(url)

            command = [sys.executable, "-m", "config.serve"]
            process = started.enter_context(running(command, env=env, log=log, cwd=ROOT, ready=ready))
            return Server(url, process, log, env)

        yield start


# --- the tests ---------------------------------------------------------------------------------

POOLED = {"DATABASE_POOL": "true"}
MODES = [pytest.param({}, id="persistent-connections"), pytest.param(POOLED, id="psycopg-pool")]
TITLE = "Survive the outage"


def in_pairs(*calls) -> list[Response]:
    """Two requests at a time, as concurrent clients send them (and so spread over the workers)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: call(), calls))


def assert_lists_the_task(response: Response) -> None:
    assert response.status == 200, response.body[:500]
    assert [task["title"] for task in response.json()["data"]] == [TITLE]


def assert_database_unavailable(response: Response) -> None:
    assert response.status == 503, response.body[:500]
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    assert response.json()["error"]["code"] == "database_unavailable", response.body
    assert response.elapsed < OUTAGE_ANSWER_WITHIN, f"took {response.elapsed:.1f} s"


def assert_same_processes(server: Server, workers: set[str]) -> None:
    assert server.process.poll() is None, "the server exited"
    assert worker_pids(server.log) == workers, "a worker was restarted"
    assert "Traceback" not in server.log.read_text(), server.log.read_text()[-3000:]


@pytest.mark.parametrize("settings", MODES)
def test_outage_is_a_json_503_and_the_same_processes_recover(cluster, start_server, token, settings):
    server = start_server(**settings)
    workers = worker_pids(server.log)
    tasks, health = f"{server.url}/api/tasks", f"{server.url}/health"
    get_tasks = partial(http, "GET", tasks, token=token)
    get_health = partial(http, "GET", health, token=token)

    # Up: a write and reads work.
    created = http("POST", tasks, token=token, json_body={"title": TITLE})
    assert created.status == 201, created.body
    for response in in_pairs(get_tasks, get_tasks, get_tasks, get_tasks):
        assert_lists_the_task(response)
    assert get_health().json()["database"] == "connected"

    # Down: every request answers fast with the JSON envelope, never an HTML 500 or a hang.
    cluster.stop("fast")
    post_task = partial(http, "POST", tasks, token=token, json_body={"title": "Lost"})
    for response in in_pairs(get_tasks, get_tasks, get_tasks, post_task):
        assert_database_unavailable(response)
    for response in in_pairs(get_health, get_health):
        assert response.status == 503, response.body[:500]
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        assert response.json()["status"] == "error"
        assert response.json()["database"] == "disconnected"
        assert response.elapsed < OUTAGE_ANSWER_WITHIN, f"/health took {response.elapsed:.1f} s"

    # Back: within a few retries, then on every request, from the same processes. A connection used
    # less than DATABASE_HEALTH_CHECK_IDLE_SECONDS ago is taken as alive, unchecked: an outage
    # shorter than that fails one request on it (a fast restart here did, now and then). So the
    # outage lasts longer than that, as any but a restart of a few hundred milliseconds does.
    time.sleep(float(settings.get("DATABASE_HEALTH_CHECK_IDLE_SECONDS", "1")) + 0.2)
    cluster.start()
    statuses = []
    for _ in range(10):
        statuses.append(get_tasks().status)
        if statuses[-1] == 200:
            break
        time.sleep(0.5)
    assert statuses[-1] == 200, f"no recovery: {statuses}\n{server.log.read_text()[-3000:]}"
    # Then every worker: at once with persistent connections; psycopg's pool reconnects in the
    # background with a growing delay, so a worker whose pool emptied may take some seconds more.
    deadline = time.monotonic() + (30 if settings.get("DATABASE_POOL") else 0)
    while True:
        responses = in_pairs(get_tasks, get_tasks, get_tasks, get_tasks)
        if all(response.status == 200 for response in responses) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for response in responses:
        assert_lists_the_task(response)
    for response in in_pairs(get_health, get_health):
        assert response.status == 200, response.body
        assert response.json()["database"] == "connected"
    assert_same_processes(server, workers)


@pytest.mark.parametrize(
    "settings",
    [
        MODES[0],
        pytest.param(POOLED, id="psycopg-pool"),
    ],
)
def test_a_restart_between_requests_costs_no_request(cluster, start_server, token, settings):
    """The database restarts while the app is idle (a maintenance restart, a failover, a suspended
    serverless compute): once the connections have been idle for DATABASE_HEALTH_CHECK_IDLE_SECONDS
    they are checked before use, so no request fails on a connection the restart killed."""
    server = start_server(**settings)
    workers = worker_pids(server.log)
    get_tasks = partial(http, "GET", f"{server.url}/api/tasks", token=token)
    assert http("POST", f"{server.url}/api/tasks", token=token, json_body={"title": TITLE}).status == 201
    # The workers (and their threads) hold connections the restart is about to kill.
    for response in in_pairs(*[get_tasks] * 8):
        assert_lists_the_task(response)

    cluster.stop("fast")
    cluster.start()
    # A connection idle for longer than this is checked before use (ironclad.database).
    time.sleep(float(settings.get("DATABASE_HEALTH_CHECK_IDLE_SECONDS", "1")) + 0.2)

    statuses = [response.status for response in in_pairs(*[get_tasks] * 8)]
    assert statuses == [200] * 8
    assert_same_processes(server, workers)
