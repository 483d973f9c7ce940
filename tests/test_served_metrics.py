"""/metrics as deployed: granian with two worker processes, each writing its own values, and one
scrape, whichever worker answers it, adding up both. A worker that dies is replaced, its counts kept
and its live gauges dropped."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.net import ON_POSTGRES, Samples, get, prometheus_samples, serving_alice

pytestmark = pytest.mark.live

TOKEN = "served-metrics-token-0123456789abcdef"
REQUESTS = 40  # each on a connection of its own, six at a time, so that both workers answer some


@dataclass
class Live:
    url: str
    jwt: str
    folder: Path  # PROMETHEUS_MULTIPROC_DIR
    process: subprocess.Popen

    def scrape(self) -> Samples:
        response = get(f"{self.url}/metrics", Authorization=f"Bearer {TOKEN}")
        assert response.status == 200, response.body
        return prometheus_samples(response.text)

    def list_tasks(self, _: int = 0) -> int:
        return get(f"{self.url}/api/tasks", Authorization=f"Bearer {self.jwt}").status

    def worker_pids(self) -> set[int]:
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return {int(pid) for pid in children.stdout.split()}

    def pids_with_counters(self) -> set[int]:
        return {int(file.stem.rsplit("_", 1)[1]) for file in self.folder.glob("counter_*.db")}


LISTED = ("ironclad_http_requests_total", (("method", "GET"), ("route", "/api/tasks"), ("status", "200")))
WORKERS = ("ironclad_workers", ())
CONNECTIONS = ("ironclad_db_connections", ())


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("served-metrics")
    (folder / "metrics").mkdir()
    (folder / "metrics" / "counter_1.db").write_bytes(b"left by an earlier start")
    (folder / "metrics" / "app.db").write_bytes(b"not a metrics file")
    with serving_alice(
        folder,
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(folder / "metrics"),
        THROTTLE_USER_RATE="100000/min",
    ) as (server, jwt):
        yield Live(server.url, jwt, folder / "metrics", server.process)


def test_one_scrape_sees_every_worker(live):
    assert not (live.folder / "counter_1.db").exists()  # emptied at the start
    assert (live.folder / "app.db").read_bytes() == b"not a metrics file"  # of its metrics files only

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(live.list_tasks, range(REQUESTS)))
    scrapes = [live.scrape() for _ in range(8)]  # answered by either worker

    assert statuses == [200] * REQUESTS
    assert len(live.worker_pids()) == 2
    assert live.pids_with_counters() == live.worker_pids()  # both answered requests
    for samples in scrapes:
        assert samples[LISTED] == REQUESTS
        assert samples[WORKERS] == 2
        if ON_POSTGRES:  # each worker's threads keep their connections (DATABASE_CONN_MAX_AGE)
            assert 2 <= samples[CONNECTIONS] <= 4


def test_a_dead_workers_counts_stay_and_its_live_values_go(live):
    before = live.scrape()[LISTED]
    victim = max(live.worker_pids())

    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(live.worker_pids() - {victim}) < 2:  # granian starts another
        assert time.monotonic() < deadline, "no worker replaced the one killed"
        time.sleep(0.2)
    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(live.list_tasks, range(REQUESTS))) == {200}
    # The two that run, not the one that died (counted once it has started).
    while (samples := live.scrape())[WORKERS] != 2:
        assert time.monotonic() < deadline, f"{samples[WORKERS]} workers counted, not 2"
        time.sleep(0.2)

    assert samples[LISTED] == before + REQUESTS  # the dead worker's requests still counted
    assert not list(live.folder.glob(f"gauge_live*_{victim}.db"))


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_the_other_servers_add_up_their_workers_too(tmp_path, server):
    with serving_alice(
        tmp_path,
        SERVER=server,
        WEB_CONCURRENCY="2",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        THROTTLE_USER_RATE="100000/min",
    ) as (served, jwt):
        live = Live(served.url, jwt, tmp_path / "metrics", served.process)
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(live.list_tasks, range(REQUESTS)))
        scrapes = [live.scrape() for _ in range(8)]

    assert statuses == [200] * REQUESTS
    assert len(live.pids_with_counters()) == 2
    for samples in scrapes:
        assert samples[LISTED] == REQUESTS
        assert samples[WORKERS] == 2
