"""Gunicorn settings for Ironclad (SERVER=gunicorn in config/serve.py).

    gunicorn -c gunicorn.conf.py config.wsgi:application

Every value comes from the environment, read as ironclad/env.py reads it (a blank value means the
default; .env is read too); .env.example documents each. Command-line options still win over this
file, and gunicorn also reads this file on its own when started from the project folder. (Started
by hand rather than by config/serve.py, gunicorn itself reads WEB_CONCURRENCY before this file,
and a blank value stops it.)

gunicorn is not the default server: its sync workers are held by idle keep-alive connections
(docs/performance.md). Put it behind a buffering proxy such as nginx.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the console script does not add the project

from config import serve
from ironclad.env import env

wsgi_app = "config.wsgi:application"
proc_name = "ironclad"

# --- Where ----------------------------------------------------------------------

_host = serve.bind_host()
if ":" in _host and not _host.startswith("["):
    _host = f"[{_host}]"  # IPv6, e.g. HOST=::
bind = [f"{_host}:{serve.port()}"]

# --- How many -------------------------------------------------------------------
# sync serves the task list more steadily (docs/performance.md), but a sync worker waiting on a
# remote model (CHAT_PROVIDER=openai) serves nothing else: there gthread's threads cover the waits.
worker_class = env.str("GUNICORN_WORKER_CLASS", default="gthread" if serve.waits_on_a_model() else "sync")
# Gunicorn turns a sync worker with threads > 1 into gthread, so threads apply to gthread only.
threads = serve.threads() if worker_class == "gthread" else 1
# One process per CPU for gthread (the GIL: a process uses about one CPU, its threads cover the
# waits); gunicorn's rule of thumb 2 x CPUs + 1 for sync, since a waiting worker serves nothing.
_sync_workers = min(2 * serve.cpu_count() + 1, serve.MAX_DEFAULT_WORKERS)
workers = env.int(
    "WEB_CONCURRENCY", default=serve.default_workers() if worker_class == "gthread" else _sync_workers
)

# --- How long -------------------------------------------------------------------
# A sync worker silent for `timeout` seconds is killed mid-request, so it must exceed the longest
# chat reply (CHAT_OPENAI_TIMEOUT, 30 s by default) with room to spare. For gthread it only
# bounds a stuck worker: the heartbeat runs while requests wait.
timeout = env.int("GUNICORN_TIMEOUT", default=max(60, serve.chat_timeout() + 30))
# On SIGTERM workers stop accepting and finish what they serve, a chat reply included, for up
# to this long. The platform's own stop timeout must be longer (docker-compose.yml: 45 s).
graceful_timeout = serve.graceful_timeout()
# Idle keep-alive connections (gthread parks them without holding a thread; sync ignores this).
keepalive = env.int("GUNICORN_KEEPALIVE", default=5)

# Each worker imports the application itself: nothing (database connections, threads) is
# shared across fork, and a restarted worker starts clean.
preload_app = False

# The worker heartbeat file: on a disk-backed /tmp an fchmod can stall a worker; /dev/shm is memory.
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# --- Proxies --------------------------------------------------------------------
# Addresses whose X-Forwarded-Proto gunicorn trusts for wsgi.url_scheme. Django itself trusts the
# header only with USE_X_FORWARDED_PROTO=true. "*" when only the platform's proxy can reach the app.
forwarded_allow_ips = env.str("FORWARDED_ALLOW_IPS", default="127.0.0.1,::1")

# --- Logs -----------------------------------------------------------------------
# Errors and start-up to stderr. The application logs each request itself (logger
# "ironclad.requests"), so gunicorn's access log is off unless asked for: no double lines.
errorlog = "-"
accesslog = "-" if env.bool("GUNICORN_ACCESS_LOG", default=False) else None

# The runtime control socket (gunicornc) is not used by a deployment; without it nothing is
# written under $HOME, and two servers on one machine cannot clash over its path.
control_socket_disable = True
