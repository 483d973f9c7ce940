"""Start Ironclad's HTTP server as deployed: `python -m config.serve` (bin/docker-entrypoint.sh).

SERVER names the server:
- granian (the default): a Rust HTTP server in front of the WSGI application. Its event loop holds
  any number of idle keep-alive connections, and WEB_THREADS threads per worker run Django.
- gunicorn: gunicorn.conf.py. Its sync workers are tied up by idle connections, so it belongs
  behind a buffering proxy (nginx), which a container on Hugging Face Spaces or compose lacks.
- uvicorn: config/asgi.py, with psycopg's pool.

Chosen by measurement (bench/load.py, bench/run.py; docs/performance.md). Every setting comes from
the environment, where a blank value means the default (ironclad/env.py); .env.example documents
each. The settings are read and HOST:PORT is tried first, so that a mistake in them or a port
already taken stops the start with one line. The process then becomes the server itself, so SIGTERM
from Docker reaches it directly.
"""

import errno
import math
import os
import socket
import sys
from pathlib import Path

from ironclad import metrics_folder
from ironclad.env import PROJECT_DIR, env

SERVERS = ("granian", "gunicorn", "uvicorn")
# Variables an earlier version read, and the ones that replaced them.
RENAMED = {"GUNICORN_THREADS": "WEB_THREADS", "GUNICORN_GRACEFUL_TIMEOUT": "WEB_GRACEFUL_TIMEOUT"}
WSGI_APP = "config.wsgi:application"
ASGI_APP = "config.asgi:application"
MAX_DEFAULT_WORKERS = 8


def cpu_count(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use, including a container's CPU quota (os.cpu_count() ignores it)."""
    cores = os.process_cpu_count() or 1
    try:  # cgroup v2: "<quota> <period>" or "max <period>"
        quota, period = cgroup_cpu_max.read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def default_workers() -> int:
    """One process per CPU (the GIL), at least two so that a crashed worker never leaves none, at
    most MAX_DEFAULT_WORKERS: a container may see all of a large host's CPUs."""
    return max(2, min(cpu_count(), MAX_DEFAULT_WORKERS))


def bind_host() -> str:
    return env.str("HOST", default="0.0.0.0")  # noqa: S104 - a container listens on all interfaces


def port() -> int:
    return env.int("PORT", default=7860)


def workers() -> int:
    return env.int("WEB_CONCURRENCY", default=default_workers())


def waits_on_a_model() -> bool:
    """Whether /api/chat waits on a remote language model (for up to chat_timeout() seconds)."""
    return env.str("CHAT_PROVIDER", default="offline") == "openai"


def chat_timeout() -> int:
    return math.ceil(env.float("CHAT_OPENAI_TIMEOUT", default=30.0))


def threads() -> int:
    """Threads per worker, each with its own PostgreSQL connection: workers x threads connections.

    A worker's CPU is idle while one of its threads waits on PostgreSQL or a language model, so
    more threads help when those waits are long (a remote database, CHAT_PROVIDER=openai).
    """
    return env.int("WEB_THREADS", default=8 if waits_on_a_model() else 2)


def backlog() -> int:
    """Connections waiting to be accepted."""
    return env.int("WEB_BACKLOG", default=2048)


def graceful_timeout() -> int:
    """Seconds in-flight requests get to finish after SIGTERM: a chat reply included."""
    return env.int("WEB_GRACEFUL_TIMEOUT", default=chat_timeout() + 5)


def serve_granian() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        WSGI_APP,
        address=bind_host(),
        port=port(),
        interface=Interfaces.WSGI,
        workers=workers(),
        blocking_threads=threads(),
        # Keep each thread (and its database connection) for as long as granian allows.
        blocking_threads_idle_timeout=600,
        backlog=backlog(),
        websockets=False,
        # The application logs every request itself (ironclad.middleware).
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=graceful_timeout(),
        working_dir=PROJECT_DIR,
    ).serve()


def exec_gunicorn() -> None:
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", WSGI_APP])  # noqa: S606


def exec_uvicorn() -> None:
    # fmt: off
    os.execv(sys.executable, [  # noqa: S606 - our own interpreter, fixed arguments
        sys.executable, "-m", "uvicorn", ASGI_APP,
        "--host", bind_host(), "--port", str(port()),
        "--workers", str(workers()),
        "--backlog", str(backlog()),
        "--timeout-graceful-shutdown", str(graceful_timeout()),
        "--lifespan", "off",  # Django has no lifespan handler; uvicorn would say so at each start
        "--no-access-log",
    ])
    # fmt: on


def check_the_settings() -> None:
    """Read the settings now: a mistake in them stops the start with one line, where each worker
    would die with a traceback, be started again and die again until granian gives up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    from ironclad.startup import one_line_errors

    with one_line_errors():
        settings.INSTALLED_APPS  # noqa: B018


def check_the_port_is_free() -> None:
    """Stop with one line when HOST:PORT is taken. granian binds with SO_REUSEPORT: beside an earlier
    Ironclad it would start without a word and share the traffic with it, and on a port another
    program holds it fails with a long traceback. A plain bind, without SO_REUSEPORT, fails in both."""
    host, number = bind_host(), port()
    try:
        [(family, kind, protocol, _, address), *_] = socket.getaddrinfo(
            host, number, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        with socket.socket(family, kind, protocol) as probe:
            # As the servers do: a port whose last connections are closing (TIME_WAIT) is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            sys.exit(
                f"Port {number} on {host} is already in use (another Ironclad or another program holds "
                "it): stop it, or set PORT to a free port."
            )
        sys.exit(f"Cannot listen on {host} port {number}: {error.strerror or error}. Check HOST and PORT.")


def main() -> None:
    os.chdir(PROJECT_DIR)
    # Blank means unset for the servers too: gunicorn reads WEB_CONCURRENCY itself, before its
    # configuration file, and `WEB_CONCURRENCY=` (a copied .env.example) would crash it.
    for name in [name for name, value in os.environ.items() if not value.strip()]:
        del os.environ[name]
    for old, new in RENAMED.items():
        if old in os.environ:
            sys.exit(f"{old} is now called {new}: rename it in the environment (see .env.example).")
    server = env.str("SERVER", default="granian")
    if server not in SERVERS:
        sys.exit(f"SERVER must be one of {', '.join(SERVERS)}, not {server!r}.")
    check_the_settings()
    # Before anything this start does to the port's resources (its metrics folder): they may be
    # another server's.
    check_the_port_is_free()
    metrics_folder.prepare(bind_host(), port())
    if server == "granian":
        serve_granian()
    elif server == "gunicorn":
        exec_gunicorn()
    else:
        exec_uvicorn()


if __name__ == "__main__":
    main()
