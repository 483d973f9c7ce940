"""SQLite as deployed (the quick start's database, and the image's without DATABASE_URL): writers
that arrive together wait their turn. A transaction that reads before it writes would otherwise be
refused at once ("database is locked", a 503) while another writes."""

import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.net import ROOT, free_port, seed_demo_users, send, server_env, serving

# On SQLite whatever database the suite runs on (CI runs the live tests in its PostgreSQL step).
pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("sqlite-writers")
    (folder / "static").mkdir()
    env = server_env(
        port=free_port(),
        database_url=f"sqlite:///{folder / 'db.sqlite3'}",
        static_root=folder / "static",
        HTTPS_ONLY="false",
        WEB_CONCURRENCY="2",
        THROTTLE_USER_RATE="off",
    )
    [token] = seed_demo_users(env, "alice@example.com")
    log = folder / "server.log"
    with serving([sys.executable, "-m", "config.serve"], env=env, log=log, cwd=ROOT) as server:
        yield server.url, token
    assert "Traceback" not in log.read_text()


def together(count: int, request) -> list[int]:
    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(request, range(count)))


def test_writes_that_read_first_wait_for_each_other(live):
    url, token = live
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    tasks = json.loads(send("GET", f"{url}/api/tasks?page_size=6", None, headers).body)["data"]
    ids = [task["id"] for task in tasks]

    toggles = together(6, lambda n: send("PATCH", f"{url}/api/tasks/{ids[n]}/complete", None, headers).status)
    keyed = together(
        6,
        lambda n: (
            send(
                "POST", f"{url}/api/tasks", b'{"title": "Keyed"}', {**headers, "Idempotency-Key": f"k{n}"}
            ).status
        ),
    )
    conditional = together(
        6,
        lambda n: (
            send(
                "PATCH", f"{url}/api/tasks/{ids[n]}", b'{"priority": "low"}', {**headers, "If-Match": "*"}
            ).status
        ),
    )
    bulk = json.dumps({"action": "update", "ids": ids[:3], "fields": {"tags": ["x"]}}).encode()
    bulks = together(6, lambda n: send("POST", f"{url}/api/tasks/bulk", bulk, headers).status)

    assert (toggles, keyed, conditional, bulks) == ([200] * 6, [201] * 6, [200] * 6, [200] * 6)
