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

RUN_WORKER=true also starts `manage.py worker` (webhook deliveries and reminders) beside the server,
for a host that runs one container (Hugging Face Spaces): see `WorkerProcess`.
"""

import ctypes
import errno
import math
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

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


def serve_granian(worker: "WorkerProcess | None" = None) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    server = Granian(
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
    )
    if worker is not None:
        # Run once granian handles SIGTERM and SIGINT itself: the worker then stops with it, not after.
        server.on_startup(worker.stop_on_the_servers_signals)
    server.serve()


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


# <linux/prctl.h>: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


class WorkerProcess:
    """`manage.py worker` run by this process beside the server (RUN_WORKER=true), on a host that runs
    one container. Its output goes to the server's. The worker takes a second signal for "stop now",
    so it runs in a process group of its own, which a terminal's Ctrl+C does not reach, and is told
    to stop by this process, in one of two ways:

    - granian runs in this process: its SIGTERM or SIGINT is passed on to the worker as SIGTERM at
      once (both stop at the same time), and once granian has stopped, the worker is waited for,
      up to WEBHOOK_TIMEOUT + 5 seconds (a delivery on its way ends within WEBHOOK_TIMEOUT), then
      killed. A second signal is passed on too, and stops the worker at once;
    - gunicorn and uvicorn replace this process (exec): the worker gets SIGTERM when its parent dies
      (Linux's parent-death signal, set before it starts), so when the server exits, however it
      exits.

    The parent-death signal also stops the worker when this process is killed before it could. From
    a process that runs several threads, as granian's does, it may come more than once (the kernel
    sends it each time the worker passes to another thread as they end), and the second one stops
    the worker at once: a delivery cut short is sent again, later, by any worker.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.told_to_stop = False

    @classmethod
    def start(cls) -> "WorkerProcess":
        # The worker serves no /metrics: its values must not be added to the server's workers'.
        env = {name: value for name, value in os.environ.items() if name != metrics_folder.VARIABLE}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=PROJECT_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            process_group=0,
            # Safe here: this process runs no other thread yet.
            preexec_fn=stopped_when_its_parent_dies(),
        )
        return cls(process)

    def stop(self) -> None:
        """SIGTERM, once: a second one would stop it at once, in the middle of a delivery."""
        if not self.told_to_stop and self.process.poll() is None:
            self.told_to_stop = True
            self.process.send_signal(signal.SIGTERM)

    def stop_on_the_servers_signals(self) -> None:
        """Make granian's handlers of SIGTERM and SIGINT tell the worker to stop too: the first
        signal once it has finished what it is sending, a second one at once."""
        for number in (signal.SIGTERM, signal.SIGINT):
            servers = signal.getsignal(number)

            def handler(signum: int, frame: FrameType | None, servers: Any = servers) -> None:
                if self.told_to_stop and self.process.poll() is None:
                    self.process.send_signal(signal.SIGTERM)
                self.stop()
                if callable(servers):
                    servers(signum, frame)

            signal.signal(number, handler)

    def stop_and_wait(self) -> None:
        self.stop()
        grace = worker_grace_seconds()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            print(
                f"The worker did not stop within {grace:g} s (WEBHOOK_TIMEOUT + 5): killed it.",
                file=sys.stderr,
            )
            self.process.kill()
            self.process.wait()


def worker_grace_seconds() -> float:
    """How long a stopping worker may take: its last delivery ends within WEBHOOK_TIMEOUT."""
    from django.conf import settings

    return float(settings.WEBHOOK_TIMEOUT) + 5


def stopped_when_its_parent_dies() -> Callable[[], None] | None:
    """What a child runs before its program, so that it gets SIGTERM when this process (or the server
    that replaced it) dies: Linux's PR_SET_PDEATHSIG. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # found before the fork, not in the child
    parent = os.getpid()

    def set_the_parent_death_signal() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before: no signal will come
            os._exit(1)

    return set_the_parent_death_signal


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
    worker = WorkerProcess.start() if env.bool("RUN_WORKER", default=False) else None
    if server == "granian":
        try:
            serve_granian(worker)
        finally:
            if worker is not None:
                worker.stop_and_wait()
    elif server == "gunicorn":
        exec_gunicorn()
    else:
        exec_uvicorn()


if __name__ == "__main__":
    main()
