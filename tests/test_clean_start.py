"""What Ironclad says when it starts, run as an operator runs it (DEBUG off, real processes):

- a sound start through bin/docker-entrypoint.sh logs no warning, and a page that links a file the
  collected files lack still renders, with one warning naming it;
- a port already in use, by another program or by an earlier Ironclad, stops `python -m
  config.serve` with one line before it starts a server, and the first one keeps serving;
- a database that is down, missing or named with a scheme of another library, and a setting's
  mistake under `python -m config.serve`, each end in one line naming what to change.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import pytest

from tests.net import (
    DATABASE_URL,
    ROOT,
    answers_health,
    free_port,
    get,
    manage,
    manage_ok,
    migrate,
    new_database,
    server_env,
    serving,
)

ENTRYPOINT = ROOT / "bin" / "docker-entrypoint.sh"
SERVE = [sys.executable, "-m", "config.serve"]

pytestmark = pytest.mark.live


def warnings_and_tracebacks(log: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(r"warn|traceback", line, re.IGNORECASE)]


def refused_start(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`command`, which must stop by itself: a server it wrongly starts is killed with its workers."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{command} did not stop by itself:\n{stdout}\n{stderr}") from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


# --- 1. a clean start -----------------------------------------------------------------------------


def test_a_sound_start_through_the_entrypoint_logs_no_warning(tmp_path):
    """migrate, collectstatic into an empty STATIC_ROOT, then the server with its workers: WhiteNoise
    asks the storage about every collected file as each worker starts, and none of that is a warning
    to the operator. Nor is rendering the pages that link the collected files."""
    with new_database(tmp_path) as database_url:
        env = server_env(
            port=free_port(), database_url=database_url, static_root=tmp_path / "static", HTTPS_ONLY="false"
        )
        log = tmp_path / "entrypoint.log"
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            for page in ("/admin/login/", "/api/docs"):
                assert get(server.url + page).status == 200, page
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=30) == 0, log.read_text()

    output = log.read_text()
    assert "static files copied" in output and "Starting granian" in output  # the whole start ran
    assert warnings_and_tracebacks(output) == [], output


def test_a_page_linking_a_file_the_collected_files_lack_gets_its_plain_name_and_one_warning(tmp_path):
    """Files collected before an upgrade added one: the page still renders (no 500), links the file
    by its plain name, and the log names the file once."""
    static_root = tmp_path / "static"
    env = server_env(
        port=free_port(),
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        static_root=static_root,
        HTTPS_ONLY="false",
        WEB_CONCURRENCY="1",  # one process, so one warning
    )
    manage_ok("collectstatic", "--noinput", **env)
    manifest = static_root / "staticfiles.json"
    collected = json.loads(manifest.read_text())
    del collected["paths"]["admin/css/base.css"]
    manifest.write_text(json.dumps(collected))
    migrate(env, cwd=ROOT)
    log = tmp_path / "server.log"

    with serving(SERVE, env=env, log=log, cwd=ROOT) as server:
        pages = [get(f"{server.url}/admin/login/") for _ in range(3)]

    assert [page.status for page in pages] == [200] * 3
    assert all('href="/static/admin/css/base.css"' in page.text for page in pages)
    assert re.search(r'href="/static/admin/css/login\.[0-9a-f]{12}\.css"', pages[0].text)  # the rest hashed
    [warning] = warnings_and_tracebacks(log.read_text())
    assert " WARNING ironclad.staticfiles " in warning
    assert warning.endswith(
        "Static file 'admin/css/base.css' is not in the collected files: run `python manage.py "
        "collectstatic --noinput` (after an upgrade) and restart."
    )


# --- 2. a port already in use ---------------------------------------------------------------------


def port_in_use(port: int) -> str:
    return (
        f"Port {port} on 127.0.0.1 is already in use (another Ironclad or another program holds it): "
        "stop it, or set PORT to a free port."
    )


def test_a_port_another_program_holds_stops_the_start_in_one_line(tmp_path):
    port = free_port()
    env = server_env(port=port, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", static_root=tmp_path)
    with socket.create_server(("127.0.0.1", port)) as other_program:
        result = refused_start(SERVE, env)

        assert result.returncode != 0
        assert result.stderr.splitlines() == [port_in_use(port)], result.stderr
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # still its program's
            other_program.settimeout(5)
            other_program.accept()[0].close()


@pytest.mark.parametrize("server_name", ["granian", "gunicorn"])
def test_a_port_an_earlier_ironclad_holds_stops_the_start_in_one_line(server_name, tmp_path):
    """granian binds with SO_REUSEPORT, so a second one would share the port with the first and
    take half of its traffic without a word."""
    port = free_port()
    env = server_env(port=port, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", static_root=tmp_path)
    migrate(env, cwd=ROOT)

    with serving(SERVE, env=env, log=tmp_path / "first.log", cwd=ROOT) as first:
        result = refused_start(SERVE, {**env, "SERVER": server_name})

        assert result.returncode != 0
        assert result.stderr.splitlines() == [port_in_use(port)], result.stderr
        assert all(answers_health(first.url) for _ in range(20))
        assert first.process.poll() is None


# --- 3. a database that cannot be opened, a setting's mistake --------------------------------------


SECRETS = {
    "SECRET_KEY": "a-real-django-secret-key-0123456789abcdef",
    "BETTER_AUTH_SECRET": "the-front-ends-better-auth-secret-0123456789",
}


def migrate_with(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """The entrypoint's first step, `manage.py migrate`, with DEBUG off."""
    return manage("migrate", "--noinput", *args, DATABASE_URL=database_url, DEBUG="false", **SECRETS)


def test_a_database_that_is_down_is_one_line_without_the_password():
    port = free_port()  # nothing listens there

    result = migrate_with(f"postgres://app:s3cret-pa55word@127.0.0.1:{port}/ironclad")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Cannot connect to the database in DATABASE_URL (127.0.0.1:{port}): connection refused. Is "
        "PostgreSQL running, and is DATABASE_URL right?"
    ]
    assert "s3cret" not in result.stdout + result.stderr


def test_traceback_shows_the_traceback_of_a_database_that_is_down():
    result = migrate_with(f"postgres://app@127.0.0.1:{free_port()}/ironclad", "--traceback")

    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "django.db.utils.OperationalError: connection failed" in result.stderr


def test_an_error_of_an_open_connection_keeps_its_traceback(tmp_path):
    """Only opening the database is said in one line: a statement's error says where it was."""
    statement = "from django.db import connection; connection.cursor().execute('SELECT * FROM nowhere')"

    result = manage(
        "shell", "-c", statement, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DEBUG="true"
    )

    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.splitlines()[-1] == "django.db.utils.OperationalError: no such table: nowhere"


@pytest.mark.postgres("a PostgreSQL server that lacks the database")
def test_a_database_that_does_not_exist_is_one_line():
    name = f"ironclad_missing_{uuid.uuid4().hex[:8]}"
    server = urlsplit(DATABASE_URL)

    result = migrate_with(server._replace(path=f"/{name}").geturl())

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f'The database "{name}" does not exist on {server.hostname}:{server.port or 5432}: create it '
        f"(createdb {name}) or fix DATABASE_URL."
    ]


def test_a_sqlite_database_in_a_missing_folder_is_one_line(tmp_path):
    path = tmp_path / "missing" / "db.sqlite3"

    result = migrate_with(f"sqlite:///{path}")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Cannot open the SQLite database {path}: unable to open database file. Does its folder exist, "
        "and is DATABASE_URL right?"
    ]


@pytest.mark.parametrize("variable", ["DATABASE_URL", "NEON_DB_URL"])
def test_a_database_url_of_another_library_is_one_line_naming_the_variable(variable):
    url = "postgresql+psycopg://app:s3cret@127.0.0.1:5432/ironclad"

    result = manage(
        "migrate", "--noinput", **{**SECRETS, "DEBUG": "false", "DATABASE_URL": "", variable: url}
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Configuration error: {variable} has the scheme 'postgresql+psycopg', which is not supported: "
        "use postgres:// (or postgresql://, sqlite:///...)."
    ]
    assert "s3cret" not in result.stdout + result.stderr


def test_the_entrypoint_stops_at_a_database_that_is_down_with_one_line(tmp_path):
    port = free_port()
    env = server_env(
        port=free_port(), database_url=f"postgres://app@127.0.0.1:{port}/ironclad", static_root=tmp_path
    )

    result = refused_start([str(ENTRYPOINT)], env)

    assert result.returncode == 1
    assert (result.stdout + result.stderr).splitlines() == [
        f"Cannot connect to the database in DATABASE_URL (127.0.0.1:{port}): connection refused. Is "
        "PostgreSQL running, and is DATABASE_URL right?"
    ]


def test_the_server_stops_at_a_settings_mistake_with_one_line(tmp_path):
    """Read by the server command itself, not by each worker (which died with a traceback, was
    started again, and died again)."""
    env = server_env(
        port=free_port(),
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        static_root=tmp_path,
        BETTER_AUTH_SECRET="abc",
    )

    result = refused_start(SERVE, env)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Configuration error: BETTER_AUTH_SECRET is 3 characters long: with DEBUG off it must be at "
        "least 32. Make one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` or "
        "`openssl rand -base64 32`."
    ]
