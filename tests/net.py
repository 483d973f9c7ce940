"""Small helpers for tests that run the project in other processes: servers on loopback,
manage.py, the settings as a fresh process reads them, a copy of the project to run."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("SECRET_KEY", "BETTER_AUTH_SECRET", "JWT_SECRET")


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

    @property
    def text(self) -> str:
        return self.body.decode()


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
    try:
        with _opener.open(request, timeout=10) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> Response:
    """Wait until `url`/health answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = get(f"{url}/health")
            if response.status == 200:
                return response
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/health did not answer 200 within {timeout} s:\n{log.read_text()}")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


@contextmanager
def serving(command: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> Iterator[Server]:
    """`command` started in a session of its own (it may fork workers), its output in `log`,
    running and healthy while the block runs; killed with everything it started afterwards."""
    port = env["PORT"]
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(url, process, log)
        yield Server(url, process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process: the test environment without its secrets, plus `env`."""
    inherited = {name: value for name, value in os.environ.items() if name not in SECRETS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


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
