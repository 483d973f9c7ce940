"""/metrics: who may read it, and what it counts, read the way Prometheus reads it (its text format,
parsed by prometheus-client's own parser). Counters live for the whole test process, so each test
compares a scrape after with one before. Across granian's worker processes: test_served_metrics.py."""

import gc
import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tokens import mint_jwt
from tests.net import Samples, prometheus_samples

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def scrape(settings, client):
    """A function that reads /metrics as Prometheus does: {(name, sorted labels): value}."""
    settings.METRICS_TOKEN = TOKEN

    def read() -> Samples:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        return prometheus_samples(response.content.decode())

    return read


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


class TestAccess:
    def test_off_without_a_token(self, client, settings):
        settings.METRICS_TOKEN = ""

        assert client.get("/metrics").status_code == 404

    @pytest.mark.parametrize(
        "authorization",
        [None, "", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", TOKEN, f"bearer{TOKEN}", f"Basic {TOKEN}"],
    )
    def test_only_the_token_reads_it(self, client, settings, authorization):
        settings.METRICS_TOKEN = TOKEN
        headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

        response = client.get("/metrics", **headers)

        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"ironclad_" not in response.content

    def test_an_api_credential_does_not_read_it(self, client, settings, user):
        settings.METRICS_TOKEN = TOKEN

        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}")

        assert response.status_code == 401

    def test_the_token_reads_the_text_format(self, client, settings):
        settings.METRICS_TOKEN = TOKEN

        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        assert b'ironclad_build_info{django="' in response.content

    def test_only_get(self, client, settings):
        settings.METRICS_TOKEN = TOKEN

        assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


class TestRequests:
    def test_requests_by_route_method_and_status(self, scrape, alice_client, make_task, user):
        task = make_task(user, title="Counted")
        before = scrape()

        alice_client.get("/api/tasks")
        alice_client.get("/api/tasks/")
        alice_client.get(f"/api/tasks/{task.pk}")
        alice_client.get("/api/tasks/999999999")
        after = scrape()

        listed = {"route": "/api/tasks", "method": "GET", "status": "200"}
        assert change(before, after, "ironclad_http_requests_total", **listed) == 2
        one = {"route": "/api/tasks/{pk}", "method": "GET"}
        assert change(before, after, "ironclad_http_requests_total", **one, status="200") == 1
        assert change(before, after, "ironclad_http_requests_total", **one, status="404") == 1
        assert change(before, after, "ironclad_http_request_duration_seconds_count", **one) == 2
        assert change(before, after, "ironclad_http_request_duration_seconds_sum", **one) > 0

    def test_the_index_is_its_own_route(self, scrape, client):
        before = scrape()

        client.get("/")
        after = scrape()

        assert (
            change(before, after, "ironclad_http_requests_total", route="/", method="GET", status="200") == 1
        )

    def test_a_path_that_matches_no_route_is_one_label(self, scrape, client):
        before = scrape()

        for number in range(3):
            client.get(f"/no-such-page-{number}")
        after = scrape()

        unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
        assert change(before, after, "ironclad_http_requests_total", **unmatched) == 3
        assert not any("no-such-page" in str(key) for key in after)

    def test_an_unknown_method_is_other(self, scrape, client):
        before = scrape()

        client.generic("BREW", "/health")
        after = scrape()

        assert change(
            before, after, "ironclad_http_requests_total", route="/health", method="other", status="405"
        )

    def test_database_statements_per_request(self, alice_client, make_task, user, scrape):
        make_task(user, title="Listed")
        alice_client.get("/api/tasks")  # the credential cache filled
        before = scrape()

        with CaptureQueriesContext(connection) as counted:
            alice_client.get("/api/tasks")
        statements = len(counted)  # read before the next request empties the log
        after = scrape()

        route = {"route": "/api/tasks"}
        assert statements >= 1
        assert change(before, after, "ironclad_db_queries_per_request_count", **route) == 1
        assert change(before, after, "ironclad_db_queries_per_request_sum", **route) == statements
        assert change(before, after, "ironclad_db_duration_seconds_per_request_sum", **route) > 0
        # A histogram's buckets count the requests with at most `le` statements.
        bucket = "ironclad_db_queries_per_request_bucket"
        assert change(before, after, bucket, **route, le=f"{statements - 1}.0") == 0
        assert change(before, after, bucket, **route, le=f"{statements}.0") == 1


class TestWhatTheServicesCount:
    def test_throttled_requests_by_scope(self, scrape, alice_client, rates, fresh_throttle_counts):
        rates(user="2/min")
        before = scrape()

        statuses = [alice_client.get("/api/tasks").status_code for _ in range(4)]
        after = scrape()

        assert statuses == [200, 200, 429, 429]
        assert change(before, after, "ironclad_throttled_requests_total", scope="user") == 2

    def test_idempotent_replays(self, scrape, alice_client):
        before = scrape()

        for _ in range(3):
            alice_client.post("/api/tasks", {"title": "Once"}, HTTP_IDEMPOTENCY_KEY="replayed-key")
        after = scrape()

        assert change(before, after, "ironclad_idempotent_replays_total") == 2

    def test_chat_replies_and_their_tool_calls(self, scrape, alice_client):
        before = scrape()

        response = alice_client.post("/api/chat", {"message": "add buy milk"})
        after = scrape()

        assert response.status_code == 200, response.content
        assert change(before, after, "ironclad_chat_replies_total", provider="offline", outcome="ok") == 1
        assert change(before, after, "ironclad_chat_provider_duration_seconds_count", provider="offline") == 1
        added = {"caller": "chat", "tool": "add_task", "outcome": "ok"}
        assert change(before, after, "ironclad_tool_calls_total", **added) == 1

    def test_a_provider_that_fails(self, scrape, alice_client, settings):
        settings.CHAT_PROVIDER = "openai"
        settings.CHAT_OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
        before = scrape()

        response = alice_client.post("/api/chat", {"message": "add buy milk"})
        after = scrape()

        assert response.status_code == 502
        failed = {"provider": "openai", "outcome": "unavailable"}
        assert change(before, after, "ironclad_chat_replies_total", **failed) == 1
        assert change(before, after, "ironclad_chat_provider_duration_seconds_count", provider="openai") == 1

    def test_mcp_tool_calls(self, scrape, client, user):
        token = mint_jwt(user)

        def call(name: str, arguments: dict) -> None:
            message = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
            response = client.post(
                "/mcp",
                data=json.dumps(message),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                HTTP_ACCEPT="application/json, text/event-stream",
                HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
            )
            assert response.status_code == 200, response.content

        before = scrape()
        call("add_task", {"title": "From an agent"})
        call("complete_task", {"task_id": 999_999_999})
        after = scrape()

        mcp = {"caller": "mcp"}
        assert change(before, after, "ironclad_tool_calls_total", **mcp, tool="add_task", outcome="ok") == 1
        assert (
            change(before, after, "ironclad_tool_calls_total", **mcp, tool="complete_task", outcome="refused")
            == 1
        )


@pytest.mark.postgres("the connections counted are PostgreSQL's (ironclad.database)")
class TestConnectionsHeld:
    """Each thread of a worker holds its own connection: counted while it does, until it closes it
    or the thread ends (granian ends idle threads; PostgreSQL then ends their connections)."""

    def hold_a_connection(self, close: bool, held: threading.Event, release: threading.Event) -> None:
        from django.db import connections

        connections["default"].ensure_connection()
        held.set()
        release.wait(10)
        if close:
            connections["default"].close()

    @pytest.mark.parametrize("close", [True, False], ids=["closed", "left open by a thread that ends"])
    def test_counted_while_held(self, scrape, close, db):
        before = scrape()
        held, release = threading.Event(), threading.Event()
        thread = threading.Thread(target=self.hold_a_connection, args=(close, held, release))

        thread.start()
        held.wait(10)
        during = scrape()
        release.set()
        thread.join(10)
        gc.collect()  # a wrapper's reference cycles go with the garbage collector
        after = scrape()

        assert change(before, during, "ironclad_db_connections") == 1
        assert change(before, after, "ironclad_db_connections") == 0
