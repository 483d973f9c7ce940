"""Every documented way to start Ironclad works on a fresh checkout, with DEBUG off.

- bin/docker-entrypoint.sh, as the image runs it (PostgreSQL): migrations, collectstatic, the
  default server, hashed assets, a clean stop on SIGTERM;
- the same with `.env.example` copied as it is into the environment (`docker run --env-file`),
  blank variables included, for each server the entrypoint can start (PostgreSQL);
- the server command run directly, without collectstatic (SQLite: runs everywhere);
- the quick start with a `.env` copied from `.env.example` (SQLite).
"""

import json
import re
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import psycopg
import pytest

from chat.tests.conftest import FakeLLM, completion
from tests.net import (
    env_example,
    free_port,
    fresh_checkout,
    get,
    migrate,
    new_terminal_env,
    server_env,
    serving,
)

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "bin" / "docker-entrypoint.sh"
ENV_EXAMPLE = ROOT / ".env.example"

pytestmark = pytest.mark.live
on_postgres = pytest.mark.postgres("the entrypoint is proven on PostgreSQL")


def linked_asset(page: str, pattern: str) -> str:
    """The URL of a static file the page links to (src or href)."""
    match = re.search(rf'(?:src|href)="(/static/{pattern})"', page)
    assert match, f"no link matching /static/{pattern} in:\n{page}"
    return match.group(1)


SWAGGER_ASSETS = {  # Swagger UI's files come from drf-spectacular-sidecar: no CDN
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle{hash}.js": "javascript",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset{hash}.js": "javascript",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui{hash}.css": "text/css",
}


def assert_admin_and_docs_are_served(url: str, *, hashed: bool) -> None:
    """The admin's login page and /api/docs answer 200, and so do the files they link to."""
    suffix = r"\.[0-9a-f]{12}" if hashed else ""
    login = get(f"{url}/admin/login/")
    assert login.status == 200, login.text[:500]
    css = get(url + linked_asset(login.text, rf"admin/css/base{suffix}\.css"), **{"Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    if hashed:  # content-hashed, gzipped at collectstatic, cached for good
        assert css.headers.get("Content-Encoding") == "gzip"
        assert "immutable" in css.headers["Cache-Control"]

    docs = get(f"{url}/api/docs")
    assert docs.status == 200, docs.text[:500]
    for name, content_type in SWAGGER_ASSETS.items():
        pattern = re.escape(name).replace(re.escape("{hash}"), suffix)
        asset = get(url + linked_asset(docs.text, pattern))
        assert asset.status == 200, name
        assert content_type in asset.headers["Content-Type"], (name, asset.headers)
        assert len(asset.body) > 1000, name
    assert get(f"{url}/api/schema").status == 200


# --- the entrypoint, as the image runs it ---------------------------------------------------------


@on_postgres
def test_the_entrypoint_serves_the_app_as_deployed(fresh_database, tmp_path):
    static_root = tmp_path / "static"  # missing: the entrypoint must collect the files itself
    env = server_env(
        port=free_port(), database_url=fresh_database, static_root=static_root, HTTPS_ONLY="false"
    )
    log = tmp_path / "entrypoint.log"
    # From another folder, as Docker's CMD would not guarantee one: the script finds the project.
    with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
        # Migrations ran on the empty database (/health checks them) and static files were collected.
        assert json.loads(get(f"{server.url}/health").body)["migrations"] == "applied"
        assert (static_root / "staticfiles.json").is_file()
        # exec: the process Docker started is now the server itself, so SIGTERM reaches it directly.
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:3] == [b"-m", b"config.serve"], cmdline
        assert "Starting granian" in log.read_text()

        assert_admin_and_docs_are_served(server.url, hashed=True)

        # Graceful stop: SIGTERM to the process Docker started, a clean exit within seconds.
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0, log.read_text()
        assert time.monotonic() - started < 5
        assert "Traceback" not in log.read_text()


@on_postgres
def test_sigterm_lets_a_request_in_flight_finish(fresh_database, tmp_path):
    """A chat reply waiting on a slow model when the platform stops the container still gets its
    answer; then the server exits 0."""
    fake_model = FakeLLM()
    fake_model.script = [("sleep", 2.0, completion("Here is your slow answer."))]
    fake_model.thread.start()
    env = server_env(
        port=free_port(),
        database_url=fresh_database,
        static_root=tmp_path / "static",
        HTTPS_ONLY="false",
        CHAT_PROVIDER="openai",
        CHAT_OPENAI_BASE_URL=fake_model.url,
    )
    answers: list = []
    try:
        with serving([str(ENTRYPOINT)], env=env, log=tmp_path / "server.log", cwd=tmp_path) as server:
            with psycopg.connect(fresh_database, autocommit=True) as conn:
                conn.execute(
                    'INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") '
                    "VALUES ('u1', 'Una', 'una@example.com', true, now(), now())"
                )
            claims = {"sub": "u1", "iss": "ironclad", "aud": "ironclad", "exp": time.time() + 600}
            token = jwt.encode(claims, env["BETTER_AUTH_SECRET"], "HS256")
            chat = threading.Thread(
                target=lambda: answers.append(post_json(f"{server.url}/api/chat", {"message": "hi"}, token))
            )
            chat.start()
            deadline = time.monotonic() + 20
            while not fake_model.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert fake_model.requests, "the chat request never reached the model"

            server.process.send_signal(signal.SIGTERM)  # while the model thinks
            chat.join(timeout=30)
            assert server.process.wait(timeout=30) == 0
    finally:
        fake_model.server.shutdown()
        fake_model.server.server_close()
    [(status, body)] = answers
    assert status == 200, body
    assert body["data"]["response"] == "Here is your slow answer."


def post_json(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the test's own server on loopback
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


SERVER_BANNERS = {"": "Starting granian", "gunicorn": "Starting gunicorn", "uvicorn": "Uvicorn running"}


@on_postgres
@pytest.mark.parametrize("server_name", list(SERVER_BANNERS), ids=["default", "gunicorn", "uvicorn"])
def test_a_copied_env_example_starts_every_server(server_name, fresh_database, tmp_path):
    """`cp .env.example .env` then `docker run --env-file .env`: every blank variable means its
    default (a blank WEB_CONCURRENCY used to crash gunicorn before it read its configuration)."""
    env = {
        **server_env(port=free_port(), database_url=fresh_database, static_root=tmp_path / "static"),
        **env_example(),
        # What the file asks its user to fill in, and where this test runs.
        "SECRET_KEY": "a-real-django-secret-key-0123456789abcdef",
        "BETTER_AUTH_SECRET": "the-front-ends-better-auth-secret-0123456789",
        "DATABASE_URL": fresh_database,
        "HOST": "127.0.0.1",
        "STATIC_ROOT": str(tmp_path / "static"),
        "SERVER": server_name,
    }
    env["PORT"] = str(free_port())
    assert env["WEB_CONCURRENCY"] == "" and env["DEBUG"] == "false"
    log = tmp_path / "entrypoint.log"

    with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
        assert SERVER_BANNERS[server_name] in log.read_text()
        # DEBUG is off and HTTPS_ONLY is blank: plain HTTP is sent to https, /health excepted.
        docs = get(f"{server.url}/api/docs")
        assert docs.status == 301
        assert docs.headers["Location"] == f"https://127.0.0.1:{env['PORT']}/api/docs"
        assert get(f"{server.url}/health").status == 200
    assert "Traceback" not in log.read_text()


# --- the server command alone, and the quick start ---------------------------------------------------

# As docs/deploying.md "Outside Docker" gives them; HOST and PORT come from the environment.
DIRECT_COMMANDS = {
    "granian": [sys.executable, "-m", "config.serve"],
    "gunicorn": [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c",
        "gunicorn.conf.py",
        "config.wsgi:application",
    ],
}


@pytest.mark.parametrize("server_name", list(DIRECT_COMMANDS))
def test_the_server_command_alone_serves_the_admin_and_docs(server_name, tmp_path):
    """Started without the entrypoint, so without collectstatic, with DEBUG off: never a 500 for a
    missing manifest. The files are served from the apps, with a warning in the log. And with
    HTTPS_ONLY=false, plain HTTP on a laptop: no redirect, no HSTS, no Secure cookies."""
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = server_env(
        port=port, database_url=database_url, static_root=tmp_path / "never-collected", HTTPS_ONLY="false"
    )
    migrate(env, cwd=ROOT)
    log = tmp_path / "server.log"

    with serving(DIRECT_COMMANDS[server_name], env=env, log=log, cwd=ROOT) as server:
        assert_admin_and_docs_are_served(server.url, hashed=False)
        login = get(f"{server.url}/admin/login/")
        assert "Strict-Transport-Security" not in login.headers
        assert "csrftoken=" in login.headers["Set-Cookie"]
        assert "Secure" not in login.headers["Set-Cookie"]
    assert "Static files are not collected" in log.read_text()
    assert "Traceback" not in log.read_text()


def test_a_copied_env_example_keeps_the_quick_start_working(tmp_path):
    """The README's quick start, bin/dev (development, SQLite), in a checkout where `.env` was
    copied from `.env.example`: its production values (DEBUG=false, HTTPS) must not get in the way."""
    checkout = fresh_checkout(tmp_path)
    shutil.copy(checkout / ".env.example", checkout / ".env")
    env = new_terminal_env()
    env["PORT"] = str(free_port())

    with serving(["bin/dev"], env=env, log=tmp_path / "dev.log", cwd=checkout) as server:
        for path in ("/api/docs", "/admin/login/"):
            response = get(server.url + path)
            assert response.status == 200, (path, response.status, response.headers)
        # .env was read: its ALLOWED_HOSTS replaced DEBUG's "*".
        assert get(f"{server.url}/health", Host="example.com").status == 400
