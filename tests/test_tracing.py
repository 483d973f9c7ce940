"""OpenTelemetry traces: off unless OTEL_* asks for them; on, a span for each request with a child
span for each PostgreSQL statement. In this process with the SDK's in-memory exporter, then as
deployed: granian's workers sending OTLP over HTTP to a collector (a receiver of the test's own),
and every log line of a request naming its trace."""

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from rest_framework.test import APIClient

from accounts.tokens import mint_jwt
from ironclad import tracing
from tests.net import (
    ON_POSTGRES,
    get,
    serving_alice,
    settings_values,
    wait_until,
)


@pytest.fixture
def exported(transactional_db) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, its spans kept in memory; off again afterwards. The test
    database's connection is closed, so that the next one is opened, and traced, as a worker's is."""
    exporter = InMemorySpanExporter()
    provider = tracing.start(SimpleSpanProcessor(exporter))
    connection.close()
    try:
        yield exporter
    finally:
        tracing.stop(provider)
        connection.close()


class TestInThisProcess:
    def test_a_request_is_a_span_with_its_statements_under_it(self, exported, user):
        client = APIClient()  # built after start(): its handler loads the traced middleware
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}")

        response = client.get("/api/tasks?completed=false")

        assert response.status_code == 200
        spans = exported.get_finished_spans()
        [request] = [span for span in spans if span.kind == SpanKind.SERVER]
        assert request.name == "GET /api/tasks"  # the route, as /metrics labels it
        assert request.attributes["http.route"] == "/api/tasks"
        assert request.attributes["http.method"] == "GET"
        assert request.attributes["http.status_code"] == 200
        assert request.attributes["http.url"] == "http://testserver/api/tasks"  # no query string
        assert request.attributes["http.target"] == "/api/tasks"
        assert request.resource.attributes["service.name"] == "ironclad"
        if ON_POSTGRES:  # psycopg's statements; SQLite's are not traced
            trace_id = request.context.trace_id
            statements = [
                span for span in spans if span.kind == SpanKind.CLIENT and span.context.trace_id == trace_id
            ]
            assert statements, [span.name for span in spans]
            assert all(span.parent.span_id == request.context.span_id for span in statements)
            assert any("task" in span.attributes.get("db.statement", "") for span in statements)

    def test_health_and_metrics_are_not_traced(self, exported):
        APIClient().get("/health")
        APIClient().get("/metrics")
        APIClient().get("/api/metrics")  # a path that only ends the same way is

        served = [span.name for span in exported.get_finished_spans() if span.kind == SpanKind.SERVER]
        assert served == ["GET /api/{path}"]


@pytest.mark.live
class TestSettings:
    def test_off_by_default(self):
        assert settings_values("TRACING", "MIDDLEWARE")["TRACING"] is False

    @pytest.mark.parametrize(
        "variables",
        [
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
            {"OTEL_TRACES_EXPORTER": "console"},
        ],
    )
    def test_on_when_otel_asks(self, variables):
        assert settings_values("TRACING", **variables)["TRACING"] is True

    @pytest.mark.parametrize(
        "variables",
        [
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"},
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"},
        ],
    )
    def test_off_when_otel_says_so(self, variables):
        assert settings_values("TRACING", **variables)["TRACING"] is False

    def test_grpc_is_refused_in_one_line(self):
        from tests.net import manage

        result = manage(
            "check",
            DEBUG="true",
            OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4317",
            OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        )

        assert result.returncode != 0
        assert "OTEL_EXPORTER_OTLP_PROTOCOL 'grpc' is not supported: use http/protobuf" in result.stderr
        assert "Traceback" not in result.stderr


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: keeps each export request it is sent."""

    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []
        super().__init__(("127.0.0.1", 0), CollectorHandler)

    def spans(self) -> list:
        return [
            span
            for export in self.exports
            for resource in export.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


class CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        self.server.exports.append(export)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def served_spans(collector: Collector) -> list:
    return [span for span in collector.spans() if span.kind == 2]  # SPAN_KIND_SERVER


def status_of(span) -> int | None:
    return next((item.value.int_value for item in span.attributes if item.key == "http.status_code"), None)


@pytest.mark.live
def test_served_workers_export_traces_and_log_their_ids(tmp_path):
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        with serving_alice(
            tmp_path,
            WEB_CONCURRENCY="2",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_port}",
            OTEL_SERVICE_NAME="ironclad-under-test",
            OTEL_BSP_SCHEDULE_DELAY="100",  # milliseconds: exported soon after the request
        ) as (server, jwt):
            log = server.log
            response = get(f"{server.url}/api/tasks", Authorization=f"Bearer {jwt}")
            request_id = response.headers["X-Request-ID"]
            refused = get(f"{server.url}/api/tasks", Authorization="Bearer not-a-token")
            refused_id = refused.headers["X-Request-ID"]
            wait_until(lambda: len(served_spans(collector)) == 2, server.process, log)
            lines = log.read_text().splitlines()
    finally:
        collector.shutdown()
        collector.server_close()

    assert response.status == 200
    [request] = [span for span in served_spans(collector) if status_of(span) == 200]
    trace_id = request.trace_id.hex()
    service = {
        attribute.key: attribute.value.string_value
        for export in collector.exports
        for resource in export.resource_spans
        for attribute in resource.resource.attributes
    }
    assert service["service.name"] == "ironclad-under-test"
    if ON_POSTGRES:
        statements = [span for span in collector.spans() if span.kind == 3]  # SPAN_KIND_CLIENT
        assert any(span.trace_id == request.trace_id for span in statements)
    [access] = [line for line in lines if f"[{request_id} trace=" in line]
    assert f"[{request_id} trace={trace_id}] GET /api/tasks 200" in access
    assert not [line for line in lines if "/health" in line and "trace=-" not in line]
    # Django's own line for a 401 is written after the request's span has ended: it names it too.
    refusals = [line for line in lines if f"[{refused_id} trace=" in line]
    assert len(refusals) == 2, refusals  # the access line and django.request's "Unauthorized"
    assert "trace=-" not in " ".join(refusals)
    assert any("Unauthorized: /api/tasks" in line for line in refusals)
