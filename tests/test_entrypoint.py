"""Serving as deployed (issue 5, item 2): bin/docker-entrypoint.sh, gunicorn.conf.py, static files.

The end-to-end test runs the very entrypoint the Docker image runs, against a fresh PostgreSQL
database, with DEBUG off: migrations, collectstatic into an empty STATIC_ROOT, gunicorn with
gunicorn.conf.py, the admin's and Swagger UI's hashed assets served by WhiteNoise, and a clean
exit on SIGTERM. It runs in CI's PostgreSQL pass (DATABASE_URL=postgres://...) and skips
elsewhere. The configuration checks below it run everywhere.
"""

import asyncio
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.net import free_port

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "bin" / "docker-entrypoint.sh"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))

SKIP_REASON = (
    "the entrypoint is proven on PostgreSQL: set DATABASE_URL=postgres://... (CI's PostgreSQL run does)"
)


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def get(url: str, **headers: str) -> Response:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return Response(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers.items()), error.read())


def _server_url(url: str, database: str) -> str:
    """The same server and credentials as `url`, another database."""
    return urlsplit(url)._replace(path=f"/{database}", query="").geturl()


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty PostgreSQL database on the CI server, dropped afterwards."""
    admin_url = _server_url(DATABASE_URL, "postgres")
    name = f"ironclad_entrypoint_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(DATABASE_URL)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 25) -> Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the entrypoint exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = get(f"{url}/health")
            if response.status == 200:
                return response
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/health did not answer 200 within {timeout} s:\n{log.read_text()}")


def linked_asset(page: str, pattern: str) -> str:
    """The URL of a hashed static file the page links to (src or href)."""
    match = re.search(rf'(?:src|href)="(/static/{pattern})"', page)
    assert match, f"no link matching /static/{pattern} in:\n{page}"
    return match.group(1)


# --- the entrypoint, end to end ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason=SKIP_REASON)
def test_entrypoint_serves_the_app_as_deployed(fresh_database, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    static_root = tmp_path / "static"  # missing: the entrypoint must collect the files itself
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_CONCURRENCY"))}
    env = {
        **inherited,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": fresh_database,
        "DEBUG": "false",
        "SECRET_KEY": "entrypoint-django-secret-key-0123456789abcdef",
        "BETTER_AUTH_SECRET": "entrypoint-better-auth-secret-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STATIC_ROOT": str(static_root),
        "WEB_CONCURRENCY": "2",
    }
    log = tmp_path / "entrypoint.log"
    with log.open("w") as sink:
        # From another folder, as Docker's CMD would not guarantee one: the script finds the project.
        process = subprocess.Popen(
            [str(ENTRYPOINT)], cwd=tmp_path, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        health = wait_for_health(url, process, log)
        # Migrations ran on the empty database (/health checks them) and static files were collected.
        assert json.loads(health.body)["migrations"] == "applied"
        assert (static_root / "staticfiles.json").is_file()
        # exec: the entrypoint's process is now gunicorn itself, so SIGTERM reaches it directly.
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"gunicorn" in cmdline and b"gunicorn.conf.py" in cmdline, cmdline
        assert "Using worker: sync" in log.read_text()

        # The admin's stylesheet, by its content-hashed name, served by WhiteNoise with DEBUG off.
        login = get(f"{url}/admin/login/")
        assert login.status == 200
        css_url = linked_asset(login.text, r"admin/css/base\.[0-9a-f]{12}\.css")
        css = get(url + css_url, **{"Accept-Encoding": "gzip"})
        assert css.status == 200
        assert css.headers["Content-Type"].startswith("text/css")
        assert css.headers.get("Content-Encoding") == "gzip"
        assert "immutable" in css.headers["Cache-Control"]

        # Swagger UI's assets come from drf-spectacular-sidecar, also hashed and served here.
        docs = get(f"{url}/api/docs")
        assert docs.status == 200
        assets = {
            r"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.[0-9a-f]{12}\.js": "javascript",
            r"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset\.[0-9a-f]{12}\.js": (
                "javascript"
            ),
            r"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui\.[0-9a-f]{12}\.css": "text/css",
        }
        for pattern, content_type in assets.items():
            asset = get(url + linked_asset(docs.text, pattern))
            assert asset.status == 200, pattern
            assert content_type in asset.headers["Content-Type"], (pattern, asset.headers)
            assert len(asset.body) > 1000, pattern
        assert get(f"{url}/api/schema").status == 200

        # Graceful stop: SIGTERM to the process Docker started, a clean exit within seconds.
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, log.read_text()
        assert time.monotonic() - started < 5
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- configuration, checked everywhere -----------------------------------------------------------


def load_gunicorn_conf(monkeypatch, **env: str) -> dict:
    for name in [*os.environ]:
        if name.startswith("GUNICORN_") or name in (
            "WEB_CONCURRENCY",
            "HOST",
            "PORT",
            "CHAT_OPENAI_TIMEOUT",
            "CHAT_PROVIDER",
        ):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_defaults_to_sync_workers_on_port_7860(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)

    assert conf["bind"] == ["0.0.0.0:7860"]
    assert conf["wsgi_app"] == "ironclad.wsgi:application"
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    assert 2 <= conf["workers"] <= 8
    # Above the 30 s a chat reply may take, so a sync worker is never killed while it waits.
    assert conf["timeout"] == 60
    assert conf["graceful_timeout"] == 35
    assert conf["accesslog"] is None
    assert conf["preload_app"] is False


def test_gunicorn_uses_threads_when_chat_waits_on_a_remote_model(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch, CHAT_PROVIDER="openai")

    assert (conf["worker_class"], conf["threads"]) == ("gthread", 4)


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    conf = load_gunicorn_conf(
        monkeypatch,
        HOST="::",
        PORT="8000",
        WEB_CONCURRENCY="3",
        GUNICORN_WORKER_CLASS="sync",
        GUNICORN_THREADS="8",
        CHAT_OPENAI_TIMEOUT="90",
        GUNICORN_ACCESS_LOG="true",
        FORWARDED_ALLOW_IPS="*",
    )

    assert conf["bind"] == ["[::]:8000"]
    assert conf["workers"] == 3
    # threads > 1 would silently turn sync into gthread.
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    assert conf["timeout"] == 120  # follows a longer chat timeout
    assert conf["accesslog"] == "-"
    assert conf["forwarded_allow_ips"] == "*"


def test_gunicorn_accepts_the_configuration(monkeypatch):
    from gunicorn.config import Config

    config = Config()
    for name, value in load_gunicorn_conf(monkeypatch).items():
        if name in config.settings:
            config.set(name, value)

    assert config.worker_class_str == "sync"
    assert config.address[0] == ("0.0.0.0", 7860)  # noqa: S104


def test_the_asgi_application_still_loads():
    """ironclad/asgi.py (uvicorn) is not the default but must keep working."""
    from ironclad.asgi import application

    sent: list[dict] = []
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()  # the client stays connected until the response is sent

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/no-such-endpoint",
        "raw_path": b"/api/no-such-endpoint",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 40000),
        "server": ("localhost", 80),
    }
    asyncio.run(application(scope, receive, send))

    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 404
    assert dict(start["headers"])[b"Content-Type"].startswith(b"application/json")
