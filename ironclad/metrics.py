"""Prometheus metrics (prometheus-client): what each worker process counts, and /metrics, which
answers the sum of every worker's.

Served by `python -m config.serve`, the workers write their values to files in one folder
(PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess mode; config/serve.py empties it at
each start), so one scrape, whichever worker answers it, sees them all. Run any other way (the
tests, `runserver`), the process keeps its values in memory and /metrics answers its own.

Every label takes a bounded set of values: a route is the URL pattern that matched, never the
path asked for, and a tool name is one of the tools or "unknown".

/metrics is off unless METRICS_TOKEN is set, and then answers only `Authorization: Bearer
<METRICS_TOKEN>` (docs/operations.md#observability).
"""

import hmac
import os
import platform
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from ironclad.metrics_folder import VARIABLE, live_gauge_pids, metrics_files

# prometheus-client writes its values to files whenever PROMETHEUS_MULTIPROC_DIR is in the
# environment, even blank (a copied .env.example): into the working folder. Blank means unset.
if not os.environ.get(VARIABLE, "unset").strip():
    del os.environ[VARIABLE]

import django
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ironclad import __version__

if os.environ.get(VARIABLE):  # set by hand for another server: made if missing
    Path(os.environ[VARIABLE]).mkdir(parents=True, exist_ok=True)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The route of a request that matched no URL pattern (a 404 outside /api/, or one refused before
# routing: a NUL in the path, a body too large, a Host not allowed).
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "ironclad_http_requests",
    "HTTP requests answered, by route (the URL pattern), method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "ironclad_http_request_duration_seconds",
    "Time to answer a request, by route and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REQUESTS_IN_PROGRESS = Gauge(
    "ironclad_http_requests_in_progress",
    "Requests being answered now.",
    multiprocess_mode="livesum",
)
DATABASE_QUERIES = Histogram(
    "ironclad_db_queries_per_request",
    "Database statements one request ran, by route.",
    ["route"],
    buckets=(0, 1, 2, 3, 4, 6, 8, 12, 20, 50, 100),
)
DATABASE_SECONDS = Histogram(
    "ironclad_db_duration_seconds_per_request",
    "Time one request spent in database statements, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
DATABASE_CONNECTIONS = Gauge(
    "ironclad_db_connections",
    "PostgreSQL connections the workers hold open (with DATABASE_POOL: taken from the pool).",
    multiprocess_mode="livesum",
)
THROTTLED = Counter(
    "ironclad_throttled_requests",
    "Requests refused with 429 by a rate limit, by its scope (user, anon, chat).",
    ["scope"],
)
IDEMPOTENT_REPLAYS = Counter(
    "ironclad_idempotent_replays",
    "Requests answered with the kept answer of an earlier one with the same Idempotency-Key.",
)
CHAT_REPLIES = Counter(
    "ironclad_chat_replies",
    "Chat turns the assistant answered (ok) or failed (unavailable, timeout, error), by provider.",
    ["provider", "outcome"],
)
CHAT_PROVIDER_SECONDS = Histogram(
    "ironclad_chat_provider_duration_seconds",
    "Time the chat provider took to answer one turn, tool calls included, by provider.",
    ["provider"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
)
TOOL_CALLS = Counter(
    "ironclad_tool_calls",
    "Task tools run for the chat's assistant or an MCP client, by caller, tool and outcome "
    "(ok, or refused: the tool answered an error).",
    ["caller", "tool", "outcome"],
)
WORKERS = Gauge(
    "ironclad_workers",
    "Worker processes running the application.",
    multiprocess_mode="livesum",
)
BUILD_INFO = Gauge(
    "ironclad_build_info",
    "Always 1; the labels say what runs.",
    ["version", "python", "django"],
    multiprocess_mode="max",
)
BUILD_INFO.labels(__version__, platform.python_version(), django.get_version()).set(1)


def count_this_worker() -> None:
    """Called by each worker process once it has built the application (config/wsgi.py, asgi.py),
    never by a management command."""
    WORKERS.set(1)


def multiprocess_directory() -> Path | None:
    folder = os.environ.get(VARIABLE)
    return Path(folder) if folder else None


def count_tool_call(caller: str, tool: str, refused: bool) -> None:
    """`tool` is one of the registry's names, or "unknown" (a model may name any): the callers see to it."""
    TOOL_CALLS.labels(caller, tool, "refused" if refused else "ok").inc()


# --- Requests ---------------------------------------------------------------------------------

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@cache
def route_template(pattern: str) -> str:
    """The URL pattern that matched, as a path template: `^api/tasks/(?P<pk>[0-9]+)/?$` is
    `/api/tasks/{pk}`, `admin/todos/task/<path:object_id>/change/` is
    `/admin/todos/task/{object_id}/change/`."""
    template = _CONVERTER.sub(r"{\1}", _NAMED_GROUP.sub(r"{\1}", pattern))
    template = template.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")
    return "/" + template


def route_of(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is not None:  # "/" is the route ""
        return route_template(match.route)
    if request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
        return f"/{settings.STATIC_URL.strip('/')}/{{path}}"  # served by WhiteNoise, before routing
    return UNMATCHED


class QueryTimer:
    """A database execute wrapper (Django's connection.execute_wrapper): counts the statements
    run through it and the time they took."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


class MetricsMiddleware:
    """Counts each request (route, method, status), its duration and its database statements."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        queries = QueryTimer()
        REQUESTS_IN_PROGRESS.inc()
        try:
            with connection.execute_wrapper(queries):
                response = self.get_response(request)
        finally:
            REQUESTS_IN_PROGRESS.dec()
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(route, method).observe(time.perf_counter() - started)
        DATABASE_QUERIES.labels(route).observe(queries.count)
        DATABASE_SECONDS.labels(route).observe(queries.seconds)
        return response


# --- /metrics ---------------------------------------------------------------------------------


def forget_dead_workers(folder: Path) -> None:
    """A worker that died (and was replaced) is no longer counted in the gauges of live values
    (requests in progress, connections, workers): prometheus-client leaves its files to the server,
    and granian has no hook for it."""
    for pid in live_gauge_pids(folder):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))
        except PermissionError:  # alive, someone else's: not one of ours, left alone
            pass


def exposition() -> bytes:
    folder = multiprocess_directory()
    if folder is None:
        return generate_latest(REGISTRY)
    forget_dead_workers(folder)
    registry = CollectorRegistry()
    registry.register(WorkersFiles(folder))
    return generate_latest(registry)


class WorkersFiles(multiprocess.MultiProcessCollector):
    """prometheus-client's collector of the workers' files, reading only its own files: another
    `.db` file in the folder (an SQLite database) is neither read nor removed."""

    def __init__(self, folder: Path) -> None:
        super().__init__(None, str(folder))
        self.folder = folder

    def collect(self):
        return self.merge([str(file) for file in metrics_files(self.folder)], accumulate=True)


def is_scraper(request: HttpRequest) -> bool:
    supplied = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(supplied, f"Bearer {settings.METRICS_TOKEN}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("/metrics is off: set METRICS_TOKEN to turn it on.")
    if not is_scraper(request):
        response = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
