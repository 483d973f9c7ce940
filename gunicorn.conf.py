"""Gunicorn settings for Ironclad as deployed (bin/docker-entrypoint.sh; DESIGN §6).

    gunicorn -c gunicorn.conf.py ironclad.wsgi:application

Every value comes from the environment (or .env, which the real environment overrides, as in
ironclad/settings.py); .env.example documents each. Command-line options still win over this
file, and gunicorn also reads this file on its own when started from the project folder.
"""

import math
import os
from pathlib import Path

import environ

ROOT = Path(__file__).resolve().parent
env = environ.Env()
environ.Env.read_env(ROOT / ".env")  # never overrides the real environment


def _str(name: str, default: str) -> str:
    """The variable's value; unset or empty (as in a copied .env.example) means the default."""
    return env.str(name, default="").strip() or default


def _int(name: str, default: int) -> int:
    return int(_str(name, str(default)))


wsgi_app = "ironclad.wsgi:application"
proc_name = "ironclad"

# --- Where ----------------------------------------------------------------------

_host = _str("HOST", "0.0.0.0")  # noqa: S104 - a container listens on all interfaces
if ":" in _host and not _host.startswith("["):
    _host = f"[{_host}]"  # IPv6, e.g. HOST=::
bind = [f"{_host}:{_int('PORT', 7860)}"]

# --- How many -------------------------------------------------------------------
# Chosen by measurement (bench/run.py, 2 workers, 2 CPUs, 10 s per scenario):
# - sync served the task list at 887-908 requests/s (0.23 of a bare Django view), steadily.
# - gthread (4 threads) served it at 832, then 343-396 in the next runs: with keep-alive a
#   worker keeps the connections it accepted, and its threads share one CPU under the GIL, so
#   the load lands unevenly on the two workers. With 32 connections even the bare view fell
#   from ~3,900 to 1,435 requests/s.
# So sync is the default. But with CHAT_PROVIDER=openai, /api/chat waits on a remote model for
# up to CHAT_OPENAI_TIMEOUT seconds, and a sync worker waiting serves nothing else: a few slow
# replies would starve the API. There gthread is the default, its threads covering the waits.
_waits_on_a_model = _str("CHAT_PROVIDER", "offline") == "openai"
worker_class = _str("GUNICORN_WORKER_CLASS", "gthread" if _waits_on_a_model else "sync")
# Gunicorn turns a sync worker with threads > 1 into gthread, so threads apply to gthread only.
threads = _int("GUNICORN_THREADS", 4) if worker_class == "gthread" else 1


def _cpu_count() -> int:
    """CPUs this process may use, including a container's CPU quota (os.cpu_count() ignores it)."""
    cores = os.process_cpu_count() or 1
    try:  # cgroup v2: "<quota> <period>" or "max <period>"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


# Workers, unless WEB_CONCURRENCY says (the variable Heroku-style platforms set):
# - gthread: one process per CPU (at least 2, so a restarting worker never leaves none). The
#   GIL lets one process use about one CPU; its threads already cover the time requests spend
#   waiting on PostgreSQL or the model. The measurement above was 2 workers on 2 CPUs.
# - sync (and others): gunicorn's rule of thumb, 2 x CPUs + 1, since a waiting worker serves nothing.
# Capped at 8: each worker is a whole Django process (~60-80 MB) with a database connection per
# thread, and a container can report the host's CPUs (say 64) with no quota set.
_cores = _cpu_count()
_default_workers = max(2, _cores) if worker_class == "gthread" else 2 * _cores + 1
workers = _int("WEB_CONCURRENCY", min(_default_workers, 8))

# --- How long -------------------------------------------------------------------
# A sync worker silent for `timeout` seconds is killed mid-request, so it must exceed the longest
# chat reply (CHAT_OPENAI_TIMEOUT, 30 s by default) with room to spare. For gthread it only
# bounds a stuck worker: the heartbeat runs while requests wait.
_chat_timeout = math.ceil(float(_str("CHAT_OPENAI_TIMEOUT", "30")))
timeout = _int("GUNICORN_TIMEOUT", max(60, _chat_timeout + 30))
# On SIGTERM workers stop accepting and finish what they serve, a chat reply included, for up
# to this long. The platform's own stop timeout must be longer (docker-compose.yml: 45 s).
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", _chat_timeout + 5)
# Idle keep-alive connections (gthread parks them without holding a thread; sync ignores this).
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Each worker imports the application itself: nothing (database connections, threads) is
# shared across fork, and a restarted worker starts clean.
preload_app = False

# The worker heartbeat file: on a disk-backed /tmp an fchmod can stall a worker; /dev/shm is memory.
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# --- Proxies --------------------------------------------------------------------
# Addresses whose X-Forwarded-Proto gunicorn trusts for wsgi.url_scheme. Django itself trusts the
# header only with USE_X_FORWARDED_PROTO=true. "*" when only the platform's proxy can reach the app.
forwarded_allow_ips = _str("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Logs -----------------------------------------------------------------------
# Errors and start-up to stderr. The application logs each request itself (logger
# "ironclad.requests"), so gunicorn's access log is off unless asked for: no double lines.
errorlog = "-"
accesslog = "-" if env.bool("GUNICORN_ACCESS_LOG", default=False) else None

# The runtime control socket (gunicornc) is not used by a deployment; without it nothing is
# written under $HOME, and two servers on one machine cannot clash over its path.
control_socket_disable = True
