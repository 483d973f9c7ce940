"""The tests' helpers, in one module: the run's database (PostgreSQL or SQLite), threads that
race for it, and what tests marked `live` use to run the project in other processes: servers on
loopback, manage.py, the settings as a fresh process reads them, a copy of the project to run.
Fixtures are in the conftest.py files."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("SECRET_KEY", "BETTER_AUTH_SECRET", "JWT_SECRET")

# --- the live tests -----------------------------------------------------------------------------

LIVE_SKIP_REASON = (
    "live: starts a server or a subprocess; run it with --live (or -m live), as CI's PostgreSQL step does"
)


def runs_live_tests(config: pytest.Config) -> bool:
    """Whether this run runs the tests marked `live`: asked for with --live, or selected by name
    with -m (`-m live`, `-m "live and not interop"`; not `-m "not live"`)."""
    if config.getoption("--live"):
        return True
    expression = config.option.markexpr or ""
    return bool(re.search(r"\blive\b", expression)) and not re.search(r"\bnot\s+live\b", expression)


# --- the database ---------------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


def postgres_admin_url() -> str:
    """The URL of the test server's `postgres` database, where databases are made and dropped."""
    return urlsplit(DATABASE_URL)._replace(path="/postgres", query="").geturl()


@contextmanager
def new_postgres_database(copy_of: str | None = None) -> Iterator[str]:
    """The URL of a new PostgreSQL database on the test server, dropped afterwards: empty, or a copy
    of the database at the URL `copy_of` (on that server, with no connection open to it), which takes
    a fraction of a second where migrating and seeding another takes seconds."""
    server = urlsplit(DATABASE_URL)
    admin_url = postgres_admin_url()
    name = f"ironclad_test_{uuid.uuid4().hex[:10]}"
    template = "" if copy_of is None else f' TEMPLATE "{urlsplit(copy_of).path.lstrip("/")}"'
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield server._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def new_database(folder: Path) -> Iterator[str]:
    """The URL of an empty database for a server: on PostgreSQL when the suite runs there (dropped
    afterwards), else an SQLite file in `folder`."""
    if ON_POSTGRES:
        with new_postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'db.sqlite3'}"


def the_test_database_url() -> str:
    """The URL of the test run's PostgreSQL database, for a connection of the test's own."""
    from django.db import connection

    return urlsplit(DATABASE_URL)._replace(path=f"/{connection.settings_dict['NAME']}").geturl()


def wait_until_blocked_on_a_lock(statement: str) -> None:
    """Until another connection's `statement` (its start) waits for a row lock."""
    from django.db import connection

    for _ in range(200):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                [f"{statement}%"],
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError(f"no {statement!r} waited for a lock")


def run_concurrently(count: int, action) -> list:
    """Run `action` in `count` threads released together; each thread has its own connection."""
    return run_together(*[action] * count)


def run_together(*actions) -> list:
    """Run each action in a thread of its own, all released together, each with its own database
    connection; their results, in the order they finished."""
    from django.db import connection

    barrier = threading.Barrier(len(actions))
    results: list = []

    def worker(action):
        try:
            barrier.wait()
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- HTTP on loopback -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: Message  # case-insensitive: granian sends header names in lower case
    body: bytes
    elapsed: float = 0.0  # seconds from sending the request to reading the whole answer

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self):
        return json.loads(self.body)

    def cookie(self, name: str) -> str | None:
        """`name=value` of a Set-Cookie header, as a browser would send it back."""
        for value in self.headers.get_all("Set-Cookie") or []:
            if value.startswith(f"{name}="):
                return value.split(";", 1)[0]
        return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:
        return None  # a redirect is an answer to look at, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


def get(url: str, **headers: str) -> Response:
    """GET `url`; every status (redirects included) comes back as a Response."""
    return _answer(urllib.request.Request(url, headers=headers))  # noqa: S310 - loopback servers the test started


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST `body` to `url`; every status comes back as a Response."""
    return send("POST", url, body, headers)


def send(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Response:
    """`method` with `body` to `url`; every status comes back as a Response."""
    return _answer(urllib.request.Request(url, data=body, headers=headers, method=method))  # noqa: S310


def send_json(method: str, url: str, data: object, headers: dict[str, str] | None = None) -> Response:
    """`method` with `data` as a JSON body to `url`; every status comes back as a Response."""
    return send(
        method, url, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def send_raw(url: str, request: bytes) -> bytes:
    """`request`, written byte for byte, to the server at `url`; its whole answer. No HTTP client
    would send some requests (two headers of one name, bytes that are not ASCII)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def _answer(request: urllib.request.Request) -> Response:
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=30) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    return Response(status, headers, body, time.monotonic() - started)


def answers_health(url: str) -> bool:
    """Whether `url`/health answers 200 now."""
    try:
        return get(f"{url}/health").status == 200
    except OSError:
        return False


# --- processes ------------------------------------------------------------------------------------


def wait_until(ready: Callable[[], bool], process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until `ready()`; fail with the process's log if it exits first or `ready()` never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}:\n{log.read_text()}")
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"{process.args!r} was not ready within {timeout} s:\n{log.read_text()}")


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until `url`/health answers 200; fail with the server's log if it exits or never does."""
    wait_until(lambda: answers_health(url), process, log, timeout)


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)


@contextmanager
def running(
    command: list[str], *, env: dict[str, str], log: Path, cwd: Path, ready: Callable[[], bool]
) -> Iterator[subprocess.Popen]:
    """`command` started in a session of its own (it may fork workers), its output in `log`,
    running and `ready()` while the block runs; killed with everything it started afterwards."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        wait_until(ready, process, log)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def serving(command: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> Iterator[Server]:
    """`command` serving on 127.0.0.1:`env["PORT"]` as `running` runs it, healthy (/health answers
    200) while the block runs."""
    url = f"http://127.0.0.1:{env['PORT']}"
    with running(command, env=env, log=log, cwd=cwd, ready=lambda: answers_health(url)) as process:
        yield Server(url, process, log, env)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process: the test environment without its secrets, plus `env`."""
    inherited = {name: value for name, value in os.environ.items() if name not in SECRETS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage_ok(*args: str, **env: str) -> str:
    """`manage` that must succeed: its output."""
    result = manage(*args, **env)
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def settings_values(*names: str, clean: tuple[str, ...] = (), **env: str) -> dict:
    """Settings as a fresh process sees them with this environment (without the variables in `clean`)."""
    values = f"{{name: getattr(settings, name) for name in {names!r}}}"
    script = f"import json; from django.conf import settings; print(json.dumps({values}, default=str))"
    inherited = {key: value for key, value in os.environ.items() if key not in clean}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fresh_checkout(parent: Path) -> Path:
    """The project as a new developer clones it, in `parent`/ironclad, with this run's virtualenv as
    its .venv (so that bin/dev installs nothing new)."""
    checkout = parent / "ironclad"
    not_cloned = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "staticfiles", "db.sqlite3*", ".env", "__pycache__", ".*_cache",
        ".schemathesis",
    )  # fmt: skip
    shutil.copytree(ROOT, checkout, ignore=not_cloned)
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    return checkout


def new_terminal_env() -> dict[str, str]:
    """This process's environment as a new terminal has it: nothing the settings read, and no
    virtualenv activated, so that a bare `python` fails there as it would for a new user."""
    named = {*env_example(), "ENV_FILE", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"}
    env = {name: value for name, value in os.environ.items() if name not in named}
    venv_bin = (Path(sys.prefix) / "bin").resolve()
    paths = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(path for path in paths if path and Path(path).resolve() != venv_bin)
    return env


def env_example() -> dict[str, str]:
    """.env.example's variables as `docker run --env-file` passes them: blank ones included."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"[A-Z_]+=", line))


# Variables that tune the server: a test says what it wants, the shell running the tests does not.
SERVER_TUNING = ("SERVER", "WEB_", "GUNICORN_", "GRANIAN_", "DATABASE_POOL", "CHAT_PROVIDER", "HTTPS_ONLY")


def migrate(env: dict[str, str], cwd: Path) -> None:
    """Apply the migrations to the database `env` names, as the entrypoint does before serving."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"migrate failed:\n{result.stdout}\n{result.stderr}"


def seed_demo_users(env: dict[str, str], *emails: str) -> list[str]:
    """The database `env` names, migrated and seeded with the demo users (alice@example.com and
    bob@example.com, with their tasks); a JWT for each of `emails`, as `manage.py issue_token` prints
    it."""
    migrate(env, cwd=ROOT)
    manage_ok("seed", **env)
    return [manage_ok("issue_token", email, **env).strip() for email in emails]


def server_env(*, port: int, database_url: str, static_root: Path, **extra: str) -> dict[str, str]:
    """The environment of Ironclad served as deployed, with DEBUG off, on loopback."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_TUNING)}
    venv_bin = Path(sys.executable).parent
    return {
        **inherited,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "serving-django-secret-key-0123456789abcdef",
        "BETTER_AUTH_SECRET": "serving-better-auth-secret-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STATIC_ROOT": str(static_root),
        **extra,
    }


@contextmanager
def serving_alice(folder: Path, **extra: str) -> Iterator[tuple[Server, str]]:
    """Ironclad served as deployed (`python -m config.serve`, DEBUG off, plain HTTP unless `extra`
    says otherwise) on a new database (new_database) seeded with the demo users, its log in
    `folder`: the server, whose `env` holds its settings, and alice@example.com's JWT."""
    (folder / "static").mkdir(exist_ok=True)
    with new_database(folder) as database_url:
        env = server_env(
            port=free_port(),
            database_url=database_url,
            static_root=folder / "static",
            **{"HTTPS_ONLY": "false", **extra},
        )
        [jwt] = seed_demo_users(env, "alice@example.com")
        with serving(
            [sys.executable, "-m", "config.serve"], env=env, log=folder / "server.log", cwd=ROOT
        ) as server:
            yield server, jwt


type Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def prometheus_samples(text: str) -> Samples:
    """/metrics's answer as Prometheus reads it (prometheus-client's own parser): each sample's value
    by its name and its labels, sorted."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
