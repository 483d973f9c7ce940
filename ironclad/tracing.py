"""OpenTelemetry traces: a span for each request (opentelemetry-instrumentation-django) and one for
each PostgreSQL statement (opentelemetry-instrumentation-psycopg), sent to an OTLP collector over
HTTP. Off unless the standard OTEL_* variables ask for traces; while off, nothing of OpenTelemetry
is imported.

Started in each worker process (config/wsgi.py, config/asgi.py), since the exporter's thread does not
survive a fork. Every log line written while a span is current carries its trace id (TraceIdFilter,
added to the logging settings when tracing is on).
"""

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase

from ironclad import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, SpanContext

SERVICE_NAME = "ironclad"
# What an OTLP exporter may send; the gRPC exporter is not installed.
SUPPORTED_PROTOCOLS = ("http/protobuf",)


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces, as OpenTelemetry's SDKs read it: an exporter named in
    OTEL_TRACES_EXPORTER other than `none`, or an OTLP endpoint; never with OTEL_SDK_DISABLED=true."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def check(environ: Mapping[str, str] = os.environ) -> None:
    """Refuse, when the settings load, what the exporter would only fail on later, in a worker."""
    exporter = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if exporter not in ("otlp", "console", "none"):
        raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER must be otlp, console or none, not {exporter!r}.")
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip()
        or SUPPORTED_PROTOCOLS[0]
    )
    if exporter == "otlp" and protocol not in SUPPORTED_PROTOCOLS:
        raise ImproperlyConfigured(
            f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not supported: use http/protobuf "
            "(a collector's port 4318)."
        )


def _exporter_processor() -> "SpanProcessor":
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter())  # endpoint, headers and timeout from OTEL_*


def start(processor: "SpanProcessor | None" = None) -> "TracerProvider":
    """Trace this process's requests and statements: spans go to `processor`, by default the
    exporter OTEL_* names, batched (OTEL_BSP_*). Call before the WSGI or ASGI application is built:
    Django's instrumentation adds a middleware to the settings."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    attributes = {"service.version": __version__}
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:
        attributes["service.name"] = SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(processor or _exporter_processor())
    trace.set_tracer_provider(provider)
    # /health and /metrics are asked every few seconds by the platform and Prometheus: no traces.
    excluded = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "^https?://[^/]+/(health|metrics)/?$")
    DjangoInstrumentor().instrument(
        tracer_provider=provider,
        excluded_urls=excluded,
        request_hook=_remember_trace,
        response_hook=_name_by_route,
    )
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    return provider


def _remember_trace(span: "Span", request: HttpRequest) -> None:
    """Kept on the request for the records Django logs once the span has ended ("Not Found: ...")."""
    request.trace_ids = hex_ids(span.get_span_context())  # type: ignore[attr-defined]


def _name_by_route(span: "Span", request: HttpRequest, response: HttpResponseBase) -> None:
    """A request's span named and routed as /metrics counts it: `GET /api/tasks/{pk}`."""
    from ironclad.metrics import route_of

    route = route_of(request)
    span.set_attribute("http.route", route)
    span.update_name(f"{request.method} {route}")
    # Without the query string, as the access log writes it: a search's text is the user's own.
    span.set_attribute("http.url", request.build_absolute_uri(request.path))
    span.set_attribute("http.target", request.path)


def stop(provider: "TracerProvider") -> None:
    """Undo start(): for the tests."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    DjangoInstrumentor().uninstrument()
    PsycopgInstrumentor().uninstrument()
    provider.shutdown()


_started = False


def start_if_wanted() -> None:
    """start(), once per process (config/wsgi.py and config/asgi.py both ask), if OTEL_* asks."""
    global _started
    from django.conf import settings  # loading them reads .env into the environment

    if settings.TRACING and not _started:
        _started = True
        start()


class TraceIdFilter(logging.Filter):
    """Tags each record logged while a span is current with its trace and span ids (hex, as
    collectors and Grafana show them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        ids = hex_ids(context) if context.is_valid else None
        # Else a request's record, logged after its span (Django's "Not Found: ...").
        ids = ids or getattr(getattr(record, "request", None), "trace_ids", None)
        if ids:
            record.trace_id, record.span_id = ids
        return True


def hex_ids(context: "SpanContext") -> tuple[str, str]:
    """A span's trace and span ids, in hex, as collectors and Grafana show them."""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
