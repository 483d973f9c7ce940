"""deploy/grafana-dashboard.json and deploy/prometheus.yml: every query of the dashboard reads
metrics /metrics serves, and, with a real Prometheus (Debian's `prometheus` package) scraping a
served Ironclad with deploy/prometheus.yml, every query evaluates, and the panels have data."""

import json
import re
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from accounts.tokens import mint_jwt
from tests.net import (
    ROOT,
    free_port,
    get,
    prometheus_samples,
    running,
    send_json,
    serving_alice,
)

DASHBOARD = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
SCRAPE_CONFIG = (ROOT / "deploy" / "prometheus.yml").read_text()
TOKEN = "dashboard-metrics-token-0123456789abcdef"
METRIC = re.compile(r"\bironclad_[a-z_]+")
# Panels with nothing to show while nothing fails: the 5xx share.
MAY_BE_EMPTY = re.compile(r'status=~"5\.\."')


def queries() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]


def as_grafana_sends(expr: str) -> str:
    return expr.replace("$__rate_interval", "30s").replace('"$job"', '".*"')


def exercise(url: str, jwt: str) -> None:
    """A request of each kind the dashboard shows: a list, a chat turn with a tool call, an MCP tool
    call, an idempotent replay, a throttled request, a 404."""
    bearer = {"Authorization": f"Bearer {jwt}", "X-Forwarded-Proto": "https"}  # as through the proxy
    assert get(f"{url}/api/tasks", **bearer).status == 200
    # THROTTLE_CHAT_RATE below is 1/min per worker (each counts in its own memory): of three, one
    # worker answers two, and refuses the second.
    chat = [
        send_json("POST", f"{url}/api/chat", {"message": "add water the plants"}, bearer).status
        for _ in range(3)
    ]
    assert chat[0] == 200 and 429 in chat
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_tasks", "arguments": {}},
    }
    mcp = {**bearer, "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    assert send_json("POST", f"{url}/mcp", call, mcp).status == 200
    for _ in range(2):
        kept = {**bearer, "Idempotency-Key": "dashboard"}
        assert send_json("POST", f"{url}/api/tasks", {"title": "Once"}, kept).status == 201
    assert get(f"{url}/no-such-page", **bearer).status == 404


class TestTheDashboard:
    def test_every_panel_reads_the_chosen_prometheus(self):
        panels = DASHBOARD["panels"]

        assert len({panel["id"] for panel in panels}) == len(panels)
        for panel in panels:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
                assert panel["targets"], panel["title"]

    def test_every_query_reads_served_metrics(self, client, settings, user, rates, fresh_throttle_counts):
        from rest_framework.test import APIClient

        settings.METRICS_TOKEN = TOKEN
        rates(user="3/min")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}")
        api.get("/api/tasks")
        api.post("/api/chat", {"message": "add water the plants"})
        for _ in range(2):
            api.post("/api/tasks", {"title": "Once"}, HTTP_IDEMPOTENCY_KEY="dashboard")
        api.get("/api/tasks")
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "list_tasks", "arguments": {}},
        }
        client.post(
            "/mcp",
            data=json.dumps(call),
            content_type="application/json",
            HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"],
            HTTP_ACCEPT="application/json, text/event-stream",
            HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
        )
        scraped = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
        served = {name for name, _ in prometheus_samples(scraped)}

        read = {name for expr in queries() for name in METRIC.findall(expr)}
        assert read - served == set()


@pytest.mark.live
@pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="needs Prometheus (apt-get install prometheus)"
)
def test_a_real_prometheus_evaluates_every_panel(tmp_path: Path):
    with serving_alice(
        tmp_path,
        HTTPS_ONLY="true",  # as deployed: /metrics is still scraped over plain HTTP
        USE_X_FORWARDED_PROTO="true",
        WEB_CONCURRENCY="2",
        METRICS_TOKEN=TOKEN,
        THROTTLE_CHAT_RATE="1/min",
    ) as (server, jwt):
        port = int(server.env["PORT"])
        exercise(server.url, jwt)
        (tmp_path / "token").write_text(TOKEN)
        config = (
            SCRAPE_CONFIG.replace("/etc/prometheus/ironclad-metrics-token", str(tmp_path / "token"))
            .replace("ironclad:7860", f"127.0.0.1:{port}")
            .replace("scrape_interval: 15s", "scrape_interval: 1s")
        )
        (tmp_path / "prometheus.yml").write_text(config)
        prometheus_port = free_port()
        api = f"http://127.0.0.1:{prometheus_port}/api/v1"

        def query(expr: str) -> dict:
            return get(f"{api}/query?query={urllib.parse.quote(expr)}").json()

        command = [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]
        with running(
            command,
            env={"PATH": "/usr/bin:/bin"},
            log=tmp_path / "prometheus.log",
            cwd=tmp_path,
            ready=lambda: _up(api),
        ) as process:
            deadline = time.monotonic() + 60
            while not query("count(ironclad_http_requests_total) and on() (count_over_time(up[30s]) > 3)")[
                "data"
            ]["result"]:
                assert process.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "prometheus.log"
                ).read_text()
                time.sleep(0.5)
            answers = {expr: query(as_grafana_sends(expr)) for expr in queries()}

    for expr, answer in answers.items():
        assert answer["status"] == "success", (expr, answer)
        if not MAY_BE_EMPTY.search(expr):
            assert answer["data"]["result"], f"no data for {expr}"


def _up(api: str) -> bool:
    try:
        return get(f"{api}/status/buildinfo").status == 200
    except OSError:
        return False
