"""Real processes for the interop tests: PostgreSQL databases, better-auth (Node) and Ironclad (gunicorn).

These tests need Node.js and PostgreSQL. They run when DATABASE_URL points at PostgreSQL
(the CI's PostgreSQL suite) and skip with the reason otherwise; REQUIRE_INTEROP=1 (set by
.ci/run) turns a skip into an error.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent / "harness"
SECRET = "interop-better-auth-secret-0123456789abcdef"


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _skip_reason() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "interop tests need Node.js and npm on PATH"
    url = _postgres_url()
    if url is None:
        return "interop tests need PostgreSQL: set DATABASE_URL=postgres://... (CI's PostgreSQL run does)"
    try:
        psycopg.connect(_server_url(url, "postgres"), connect_timeout=3).close()
    except psycopg.Error as error:
        return f"interop tests need a reachable PostgreSQL server: {error}"
    return None


def _server_url(url: str, database: str) -> str:
    """The same server and credentials as `url`, another database."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason and os.environ.get("REQUIRE_INTEROP") == "1":
        raise pytest.UsageError(f"REQUIRE_INTEROP=1 but {reason}")
    for item in items:
        if "tests/interop" in str(item.fspath):
            item.add_marker(pytest.mark.interop)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def cookie(self, name: str) -> str | None:
        """`name=value` of a Set-Cookie header, as a browser would send it back."""
        for key, value in self.headers:
            if key.lower() == "set-cookie" and value.startswith(f"{name}="):
                return value.split(";", 1)[0]
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, *, headers: dict | None = None, json_body=None) -> HttpResponse:
    data = None
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with _opener.open(request, timeout=30) as response:
            return HttpResponse(response.status, list(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return HttpResponse(error.code, list(error.headers.items()), error.read())


@pytest.fixture(scope="session")
def harness() -> Path:
    """The Node harness with its locked dependencies installed."""
    if not (HARNESS / "node_modules" / "better-auth").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HARNESS, check=True, timeout=300)
    return HARNESS


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    server_url = _postgres_url()
    assert server_url is not None  # the module is skipped otherwise
    admin_url = _server_url(server_url, "postgres")
    name = f"ironclad_interop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _server_url(server_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_checked(args: list[str], *, env: dict, cwd: Path, timeout: int = 180) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass
class Service:
    url: str
    process: subprocess.Popen
    log: Path
    env: dict = field(repr=False, default_factory=dict)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until(ready, process: subprocess.Popen, log: Path, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not become ready:\n{log.read_text()}")


@pytest.fixture
def start_better_auth(harness, tmp_path):
    started: list[subprocess.Popen] = []

    def start(database_url: str) -> Service:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "BETTER_AUTH_SECRET": SECRET, "PORT": str(port)}
        log = tmp_path / f"better-auth-{port}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(["node", "server.mjs"], cwd=harness, env=env, stdout=sink, stderr=sink)
        started.append(process)
        _wait_until(lambda: "READY" in log.read_text(), process, log, "better-auth")
        return Service(f"http://127.0.0.1:{port}", process, log, env)

    yield start
    for process in started:
        _stop(process)


def ironclad_env(database_url: str, **extra: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": SECRET,
        "SECRET_KEY": "interop-django-secret-key-0123456789abcdef",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        **extra,
    }


@pytest.fixture
def start_ironclad(tmp_path):
    """Ironclad as deployed: gunicorn serving the WSGI application."""
    started: list[subprocess.Popen] = []

    def start(database_url: str, **extra: str) -> Service:
        port = free_port()
        env = ironclad_env(database_url, **extra)
        log = tmp_path / f"ironclad-{port}.log"
        args = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
        with log.open("w") as sink:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=sink, stderr=sink)
        started.append(process)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return http("GET", f"{url}/health").status == 200
            except OSError:
                return False

        _wait_until(healthy, process, log, "ironclad")
        return Service(url, process, log, env)

    yield start
    for process in started:
        _stop(process)


def manage(database_url: str, *args: str) -> str:
    return run_checked([sys.executable, "manage.py", *args], env=ironclad_env(database_url), cwd=ROOT)


def better_auth_migrate(harness: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "BETTER_AUTH_SECRET": SECRET}
    return subprocess.run(
        ["node", "migrate.mjs", *args], cwd=harness, env=env, capture_output=True, text=True, timeout=120
    )
