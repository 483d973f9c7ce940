"""The servers' settings as the environment gives them (config/serve.py, gunicorn.conf.py),
and the ASGI entry point. The servers themselves start in tests/test_entrypoint.py."""

import asyncio
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.net import SERVER_TUNING

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"


@pytest.fixture
def server_environment(monkeypatch):
    """Set the given variables and none of the server-tuning ones this shell may have."""
    for name in [*os.environ]:
        if name.startswith(SERVER_TUNING) or name in ("HOST", "PORT", "CHAT_OPENAI_TIMEOUT"):
            monkeypatch.delenv(name)

    def set_environment(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return set_environment


# --- config/serve.py --------------------------------------------------------------------------


def test_the_default_is_a_worker_per_cpu_and_two_threads(server_environment, monkeypatch):
    from config import serve

    server_environment()
    for cpus, workers in [(1, 2), (2, 2), (4, 4), (64, 8)]:  # at least two, at most eight
        monkeypatch.setattr(serve, "cpu_count", lambda cpus=cpus: cpus)
        assert serve.workers() == workers
    assert serve.threads() == 2
    assert (serve.bind_host(), serve.port()) == ("0.0.0.0", 7860)  # noqa: S104
    assert serve.graceful_timeout() == 35  # a chat reply (30 s) may finish after SIGTERM


def test_a_worker_waits_on_a_language_model_with_more_threads(server_environment):
    from config import serve

    server_environment(CHAT_PROVIDER="openai", CHAT_OPENAI_TIMEOUT="90")

    assert serve.threads() == 8
    assert serve.graceful_timeout() == 95


def test_the_cpu_count_respects_a_containers_quota(tmp_path, monkeypatch):
    from config import serve

    monkeypatch.setattr(os, "process_cpu_count", lambda: 16)
    cpu_max = tmp_path / "cpu.max"
    for quota, cpus in [("150000 100000", 2), ("50000 100000", 1), ("max 100000", 16), ("garbage", 16)]:
        cpu_max.write_text(quota)
        assert serve.cpu_count(cpu_max) == cpus, quota
    assert serve.cpu_count(tmp_path / "missing") == 16


def test_blank_server_variables_mean_their_defaults(server_environment):
    from config import serve

    server_environment(WEB_CONCURRENCY="", WEB_THREADS=" ", PORT="", HOST="", WEB_GRACEFUL_TIMEOUT="")

    assert (serve.workers(), serve.threads()) == (serve.default_workers(), 2)
    assert (serve.bind_host(), serve.port(), serve.graceful_timeout()) == ("0.0.0.0", 7860, 35)  # noqa: S104


def test_the_server_settings_come_from_the_environment(server_environment):
    from config import serve

    server_environment(
        WEB_CONCURRENCY="3", WEB_THREADS="16", HOST="::", PORT="8000", WEB_GRACEFUL_TIMEOUT="9"
    )

    assert (serve.workers(), serve.threads()) == (3, 16)
    assert (serve.bind_host(), serve.port(), serve.graceful_timeout()) == ("::", 8000, 9)


@pytest.mark.live
def test_an_unknown_server_stops_start_up(server_environment):
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_TUNING)}

    result = subprocess.run(
        [sys.executable, "-m", "config.serve"],
        cwd=ROOT,
        env={**env, "SERVER": "waitress"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 1
    assert "SERVER must be one of granian, gunicorn, uvicorn, not 'waitress'." in result.stderr


@pytest.mark.live
@pytest.mark.parametrize(
    ("old", "new"),
    [("GUNICORN_THREADS", "WEB_THREADS"), ("GUNICORN_GRACEFUL_TIMEOUT", "WEB_GRACEFUL_TIMEOUT")],
)
def test_a_renamed_variable_stops_start_up_with_its_new_name(old, new):
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_TUNING)}

    result = subprocess.run(
        [sys.executable, "-m", "config.serve"],
        cwd=ROOT,
        env={**env, old: "4"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 1
    assert f"{old} is now called {new}" in result.stderr


# --- gunicorn.conf.py ---------------------------------------------------------------------------


def load_gunicorn_conf(server_environment, **env: str) -> dict:
    server_environment(**env)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_defaults_to_sync_workers_on_port_7860(server_environment):
    conf = load_gunicorn_conf(server_environment)

    assert conf["bind"] == ["0.0.0.0:7860"]
    assert conf["wsgi_app"] == "config.wsgi:application"
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    assert 2 <= conf["workers"] <= 8
    # Above the 30 s a chat reply may take, so a sync worker is never killed while it waits.
    assert conf["timeout"] == 60
    assert conf["graceful_timeout"] == 35
    assert conf["accesslog"] is None
    assert conf["preload_app"] is False


def test_gunicorn_uses_threads_when_chat_waits_on_a_remote_model(server_environment):
    conf = load_gunicorn_conf(server_environment, CHAT_PROVIDER="openai")

    assert (conf["worker_class"], conf["threads"]) == ("gthread", 8)


def test_gunicorn_settings_come_from_the_environment(server_environment):
    conf = load_gunicorn_conf(
        server_environment,
        HOST="::",
        PORT="8000",
        WEB_CONCURRENCY="3",
        GUNICORN_WORKER_CLASS="sync",
        WEB_THREADS="8",
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


def test_gunicorn_accepts_the_configuration(server_environment):
    from gunicorn.config import Config

    config = Config()
    for name, value in load_gunicorn_conf(server_environment).items():
        if name in config.settings:
            config.set(name, value)

    assert config.worker_class_str == "sync"
    assert config.address[0] == ("0.0.0.0", 7860)  # noqa: S104


# --- config/asgi.py ---------------------------------------------------------------------------


@pytest.mark.live
def test_the_asgi_entry_point_turns_the_pool_on():
    """Under ASGI each request runs in a thread of its own: a persistent connection per thread
    would never be reused, so config/asgi.py (SERVER=uvicorn) always uses psycopg's pool."""
    script = (
        "import config.asgi; from django.conf import settings; db = settings.DATABASES['default']; "
        "print(db['OPTIONS']['pool']['max_size'], db['CONN_MAX_AGE'])"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_TUNING)}

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DATABASE_URL": "postgres://app@127.0.0.1:1/app", "DATABASE_POOL": "false"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10", "0"]


def test_the_asgi_application_answers(monkeypatch):
    monkeypatch.setenv("DATABASE_POOL", "false")  # restored afterwards: importing asgi.py sets it
    from config.asgi import application

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
