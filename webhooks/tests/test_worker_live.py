"""The worker as deployed: `manage.py worker` processes beside Ironclad's server, on PostgreSQL, each
test on a new database of its own, sending to real receivers on loopback (webhooks.tests.receiver)
that verify every signature with the `standardwebhooks` library.

What a receiver can count on: every event, signed, in the order the changes were made, again after
it fails or is down for a while and after a worker dies mid-request (with the same webhook-id), and
once when nothing fails, however many workers run; reminders on time; nothing of another user's;
no wait behind another user's slow receiver, and no request longer than WEBHOOK_TIMEOUT however
slowly a receiver answers; and a worker that stops on SIGTERM without cutting a request short.

Time: the database is migrated once, and each test's is a copy of it; each test's server starts
while the test before it runs, and its database is dropped while the next one runs. The killed
worker's test waits for its claim to lapse (WEBHOOK_TIMEOUT + CLAIM_MARGIN_SECONDS), so it is set
going before the first test, and the others run meanwhile. Waits are for conditions, with generous
timeouts; bounds on latency have slack for a busy machine of two cores.
"""

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.net import (
    ROOT,
    Response,
    answers_health,
    free_port,
    manage_ok,
    migrate,
    new_postgres_database,
    send,
    send_json,
    server_env,
    wait_until,
)
from webhooks.delivery import CLAIM_MARGIN_SECONDS
from webhooks.tests.receiver import Received, Receiver, receiving

pytestmark = [
    pytest.mark.live,
    pytest.mark.postgres("workers and a server writing at once, as deployed"),
]

# The server's settings, and the workers': short timeouts and retries, a look for work 10 times a second.
SERVER_SETTINGS = {"WEB_CONCURRENCY": "1", "WEBHOOK_ALLOW_PRIVATE_URLS": "true", "HTTPS_ONLY": "false"}
WORKER_SETTINGS = {
    "PYTHONUNBUFFERED": "1",  # its log as it happens
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "WORKER_POLL_SECONDS": "0.1",
    "WEBHOOK_TIMEOUT": "2",
    "WEBHOOK_RETRY_SCHEDULE": "0.3,0.6",
}
TASK_CHANGES = ["task.created", "task.updated", "task.completed", "task.deleted"]

# Users of the database every test's is a copy of, and a JWT for each.
USERS = """
import json
from accounts.models import User
from accounts.tokens import mint_jwt
users = [User.objects.create(name=name.title(), email=f"{name}@example.com") for name in ("alice", "bob")]
print(json.dumps({user.email.split("@")[0]: mint_jwt(user) for user in users}))
"""


# --- Processes ------------------------------------------------------------------------------------


@contextmanager
def started(command: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`command` started in a session of its own, its output in `log`, not waited for; killed with
    everything it started afterwards, if it still runs."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def has_started(self) -> bool:
        return " started: " in self.log.read_text()

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass(frozen=True)
class Template:
    url: str  # the database's, migrated, with the users
    jwts: dict[str, str]


@dataclass
class Live:
    """Ironclad served on a database of its own, and the workers a test starts beside it."""

    url: str
    env: dict[str, str]  # the server's settings; a worker's start from them
    jwts: dict[str, str]
    folder: Path
    server: subprocess.Popen
    stack: ExitStack
    workers: list[Worker] = field(default_factory=list)

    def worker(self, *args: str, **settings: str) -> Worker:
        """`manage.py worker *args` started with WORKER_SETTINGS and `settings`, once it runs (and
        the server answers)."""
        log = self.folder / f"worker-{len(self.workers) + 1}.log"
        command = [sys.executable, "manage.py", "worker", *args]
        process = self.stack.enter_context(
            started(command, env={**self.env, **WORKER_SETTINGS, **settings}, log=log)
        )
        worker = Worker(process, log)
        self.workers.append(worker)
        self.wait_serving()
        wait_until(worker.has_started, process, log)
        return worker

    def wait_serving(self) -> None:
        wait_until(lambda: answers_health(self.url), self.server, self.folder / "server.log")

    def api(self, user: str, method: str, path: str, data: object = None) -> Response:
        headers = {"Authorization": f"Bearer {self.jwts[user]}"}
        if data is None:
            return send(method, f"{self.url}{path}", None, headers)
        return send_json(method, f"{self.url}{path}", data, headers)

    def ok(self, user: str, method: str, path: str, data: object = None, status: int = 200) -> Any:
        """The answer's `data`, which must come with `status`."""
        response = self.api(user, method, path, data)
        assert response.status == status, f"{method} {path}: {response.status} {response.text}"
        return response.json()["data"] if response.body else None

    def subscribe(self, user: str, receiver: Receiver, event_types: list[str]) -> int:
        """A webhook of the user's to `receiver`, which is given its secret."""
        body = {"url": receiver.url, "event_types": event_types}
        webhook = self.ok(user, "POST", "/api/webhooks", body, status=201)
        receiver.secret = webhook["secret"]
        return webhook["id"]

    def deliveries(self, user: str, webhook: int) -> list[dict[str, Any]]:
        """The webhook's deliveries, oldest first, as its deliveries API shows them."""
        return self.ok(user, "GET", f"/api/webhooks/{webhook}/deliveries?page_size=100")[::-1]

    def finished_deliveries(self, user: str, webhook: int, count: int) -> list[dict[str, Any]]:
        """The webhook's `count` deliveries, oldest first, once none is pending: the worker records
        an answer just after the receiver has sent it."""

        def finished() -> list[dict[str, Any]]:
            deliveries = self.deliveries(user, webhook)
            done = len(deliveries) == count and all(
                delivery["status"] != "pending" for delivery in deliveries
            )
            return deliveries if done else []

        return eventually(finished, f"{count} deliveries finished")

    def create_task(self, user: str, **fields: object) -> dict[str, Any]:
        return self.ok(user, "POST", "/api/tasks", fields, status=201)

    def task(self, user: str, task_id: int) -> dict[str, Any]:
        return self.ok(user, "GET", f"/api/tasks/{task_id}")

    def logs(self) -> str:
        return "\n".join(f"--- {worker.log.name}\n{worker.log.read_text()}" for worker in self.workers)


@contextmanager
def launched(template: Template, folder: Path) -> Iterator[Live]:
    """Ironclad starting as deployed on a copy of `template` (its health waited for by the first
    worker or request)."""
    (folder / "static").mkdir(exist_ok=True)
    with ExitStack() as stack:
        database_url = stack.enter_context(new_postgres_database(copy_of=template.url))
        env = server_env(
            port=free_port(), database_url=database_url, static_root=folder / "static", **SERVER_SETTINGS
        )
        command = [sys.executable, "-m", "config.serve"]
        server = stack.enter_context(started(command, env=env, log=folder / "server.log"))
        yield Live(f"http://127.0.0.1:{env['PORT']}", env, template.jwts, folder, server, stack)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Iterator[Template]:
    folder = tmp_path_factory.mktemp("worker-live-template")
    with new_postgres_database() as url:
        env = server_env(port=free_port(), database_url=url, static_root=folder, **SERVER_SETTINGS)
        migrate(env, ROOT)
        jwts = json.loads(manage_ok("shell", "-c", USERS, **env).strip().splitlines()[-1])
        yield Template(url, jwts)


class Launcher:
    """Launches Ironclad for each test that asks, one test ahead: the next test's server starts
    while this one runs."""

    def __init__(self, template: Template, folders: Callable[[], Path], tests: int) -> None:
        self.template = template
        self.folders = folders
        self.tests = tests  # how many will ask
        self.spare: tuple[ExitStack, Live] | None = None
        self.closing: list[threading.Thread] = []

    def launch(self) -> tuple[ExitStack, Live]:
        stack = ExitStack()
        return stack, stack.enter_context(launched(self.template, self.folders()))

    def take(self) -> tuple[ExitStack, Live]:
        stack, live = self.spare or self.launch()
        self.spare = None
        self.tests -= 1
        if self.tests > 0:
            with stack.pop_all() as unless_launched:  # closed if the next one cannot be launched
                self.spare = self.launch()
                stack = unless_launched.pop_all()
        return stack, live

    def put_away(self, stack: ExitStack) -> None:
        """Stop a test's processes and drop its database, in a thread: dropping a database waits
        for a checkpoint, seconds the next test need not wait."""
        thread = threading.Thread(target=stack.close)
        thread.start()
        self.closing.append(thread)

    def close(self) -> None:
        if self.spare is not None:
            self.spare[0].close()
        for thread in self.closing:
            thread.join()


@pytest.fixture(scope="module")
def launcher(request, template, tmp_path_factory) -> Iterator[Launcher]:
    tests = sum(
        item.module is request.module and "live" in item.fixturenames for item in request.session.items
    )
    launcher = Launcher(template, lambda: tmp_path_factory.mktemp("live"), tests)
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture
def live(launcher) -> Iterator[Live]:
    stack, live = launcher.take()
    try:
        yield live
    finally:
        print(live.logs())  # shown when the test fails
        launcher.put_away(stack)


# --- Receivers ------------------------------------------------------------------------------------


def eventually[T](value: Callable[[], T], what: str, timeout: float = 30) -> T:
    """`value()` once it is truthy; fail saying `what` was awaited if it is not within `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := value()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)
    return result


@dataclass(frozen=True)
class Arrival:
    at: float  # time.time()
    id: str  # webhook-id


class Arrivals:
    """Requests as they reach a receiver, before it answers (or hangs): a receiver records a request
    only once it answers it."""

    def __init__(self, receiver: Receiver) -> None:
        self.seen: list[Arrival] = []
        handle = receiver.handle

        def arriving(request: http.server.BaseHTTPRequestHandler) -> None:
            self.seen.append(Arrival(time.time(), request.headers.get("webhook-id", "")))
            handle(request)

        receiver.handle = arriving  # type: ignore[method-assign]

    def wait_for(self, count: int, timeout: float = 30) -> list[Arrival]:
        return eventually(
            lambda: self.seen[:] if len(self.seen) >= count else [], f"{count} requests", timeout
        )


class Outage:
    """The receiver's port closed (connections refused) from the start until `end()`; open again
    then, served by a new server of the receiver's, shut at the block's end."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.address = receiver.server.server_address[:2]
        self.replacement: http.server.ThreadingHTTPServer | None = None
        receiver.server.shutdown()
        receiver.server.server_close()

    def end(self) -> None:
        server = http.server.ThreadingHTTPServer(self.address, self.receiver.server.RequestHandlerClass)
        server.daemon_threads = True
        self.receiver.server = self.replacement = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        if self.replacement is not None:
            self.replacement.shutdown()
            self.replacement.server_close()


@contextmanager
def outage(receiver: Receiver) -> Iterator[Outage]:
    down = Outage(receiver)
    try:
        yield down
    finally:
        down.close()


@contextmanager
def dripping(seconds: float) -> Iterator[str]:
    """The URL of a receiver that takes `seconds` to answer 200, sending its status line and headers
    a byte at a time, four bytes a second: no read waits long, the answer does."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            ends = time.monotonic() + seconds
            try:
                for byte in b"HTTP/1.1 200 OK\r\nx-slow: ":
                    conn.sendall(bytes([byte]))
                    stopping.wait(0.25)
                while time.monotonic() < ends and not stopping.is_set():
                    conn.sendall(b"a")
                    stopping.wait(0.25)
                conn.sendall(b"\r\ncontent-length: 2\r\n\r\nok")
            except OSError:
                pass  # the worker hung up

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stopping.set()
        listener.close()


def summary(received: list[Received]) -> list[tuple[str, int, int]]:
    """(type, the task's id, the answer's status) of each request."""
    return [(request.type, request.payload["data"]["id"], request.answered) for request in received]


def attempt_statuses(delivery: dict[str, Any]) -> list[int | None]:
    return [attempt["response_status"] for attempt in delivery["attempt_log"]]


def in_the_future(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).isoformat()


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


# --- The killed worker, set going first -----------------------------------------------------------

KILLED_TEST = "test_a_worker_killed_mid_request_loses_nothing"
KILLED_TIMEOUT = 1.0  # WEBHOOK_TIMEOUT of its workers: the claim lasts this + CLAIM_MARGIN_SECONDS
KILLED_CLAIM = KILLED_TIMEOUT + CLAIM_MARGIN_SECONDS


@dataclass
class Killed:
    live: Live
    receiver: Receiver
    arrivals: Arrivals
    webhook: int
    first: Arrival  # the request the killed worker was waiting on
    tasks: list[int]


@pytest.fixture(scope="module")
def killed_mid_request(template, tmp_path_factory) -> Iterator[Killed]:
    """A worker killed (SIGKILL) while its request waits for the receiver, and another started."""
    folder = tmp_path_factory.mktemp("killed")
    with launched(template, folder) as live, receiving() as receiver:
        try:
            arrivals = Arrivals(receiver)
            receiver.hang.set()
            worker = live.worker("--threads", "1", WEBHOOK_TIMEOUT=str(KILLED_TIMEOUT))
            webhook = live.subscribe("alice", receiver, ["task.created"])
            tasks = [live.create_task("alice", title="Sent when its worker dies")["id"]]
            [first] = arrivals.wait_for(1)

            worker.kill()
            receiver.hang.clear()  # from now on it answers at once,
            receiver.released.set()  # the request in hand too (to nobody: it is recorded, no more)
            tasks.append(live.create_task("alice", title="Made while no worker runs")["id"])
            live.worker("--threads", "1", WEBHOOK_TIMEOUT=str(KILLED_TIMEOUT))
            yield Killed(live, receiver, arrivals, webhook, first, tasks)
        finally:
            print(live.logs())


@pytest.fixture(scope="module", autouse=True)
def the_killed_worker_first(request) -> None:
    """Its test waits for a claim to lapse: that wait runs while the other tests do."""
    if any(item.name == KILLED_TEST and item.module is request.module for item in request.session.items):
        request.getfixturevalue("killed_mid_request")


# --- The tests ------------------------------------------------------------------------------------


def test_deliveries_are_signed_in_order_with_the_task_as_the_api_shows_it_and_redelivered_alike(live):
    with receiving() as receiver:
        live.worker()
        webhook = live.subscribe("alice", receiver, TASK_CHANGES)

        task_id = live.create_task("alice", title="Water the plants")["id"]
        shown = [live.task("alice", task_id)]
        live.ok("alice", "PATCH", f"/api/tasks/{task_id}", {"description": "The balcony's too"})
        shown.append(live.task("alice", task_id))
        live.ok("alice", "PATCH", f"/api/tasks/{task_id}/complete")
        shown.append(live.task("alice", task_id))
        live.ok("alice", "DELETE", f"/api/tasks/{task_id}", status=204)

        received = receiver.wait_for(4)
        assert [request.type for request in received] == TASK_CHANGES
        assert all(request.verified for request in received)
        assert all(set(request.payload) == {"type", "timestamp", "data"} for request in received)
        assert [request.payload["data"] for request in received] == [*shown, shown[-1]]  # deleted: as it was
        moments = [epoch(request.payload["timestamp"]) for request in received]
        assert moments == sorted(moments) and abs(moments[0] - time.time()) < 60
        assert len({request.id for request in received}) == 4

        deliveries = live.finished_deliveries("alice", webhook, 4)
        assert [delivery["event"]["id"] for delivery in deliveries] == [request.id for request in received]
        assert [delivery["status"] for delivery in deliveries] == ["delivered"] * 4
        created = deliveries[0]
        redelivery = live.ok(
            "alice", "POST", f"/api/webhooks/{webhook}/deliveries/{created['id']}/redeliver", status=202
        )
        assert redelivery["event"]["id"] == created["event"]["id"]

        again = receiver.wait_for(5)[4]
        assert again.verified
        assert (again.id, again.body) == (received[0].id, received[0].body)
        statuses = [delivery["status"] for delivery in live.finished_deliveries("alice", webhook, 5)]
        assert statuses == ["delivered"] * 5


def test_a_receiver_that_fails_or_is_down_then_recovers_gets_every_event_in_order(live):
    with receiving() as alices, receiving() as bobs, outage(bobs) as bobs_outage:
        alices.answers = [500, 503]
        live.worker()
        alices_webhook = live.subscribe("alice", alices, TASK_CHANGES)
        bobs_webhook = live.subscribe("bob", bobs, TASK_CHANGES)
        made: dict[str, list[tuple[str, int]]] = {}
        for user in ("alice", "bob"):
            first = live.create_task(user, title="First")["id"]
            live.ok(user, "PATCH", f"/api/tasks/{first}", {"title": "First, renamed"})
            second = live.create_task(user, title="Second")["id"]
            made[user] = [("task.created", first), ("task.updated", first), ("task.created", second)]

        # Alice's receiver answers 500, then 503, then recovers.
        alices.wait_for(3)
        assert summary(alices.received) == [
            (*made["alice"][0], 500),
            (*made["alice"][0], 503),
            *[(*event, 200) for event in made["alice"]],
        ]
        assert len({request.id for request in alices.received[:3]}) == 1  # the one event, tried 3 times
        assert all(request.verified for request in alices.received)
        deliveries = live.finished_deliveries("alice", alices_webhook, 3)
        assert [attempt_statuses(delivery) for delivery in deliveries] == [[500, 503, 200], [200], [200]]
        assert [delivery["attempts"] for delivery in deliveries] == [3, 1, 1]
        assert [delivery["status"] for delivery in deliveries] == ["delivered"] * 3
        webhook = live.ok("alice", "GET", f"/api/webhooks/{alices_webhook}")
        assert (webhook["failures"], webhook["retry_at"]) == (0, None)
        assert webhook["last_success_at"] is not None

        # Bob's refuses connections for a few tries, then comes up.
        eventually(
            lambda: len(live.deliveries("bob", bobs_webhook)[0]["attempt_log"]) >= 3,
            "3 attempts to reach Bob's receiver while it is down",
        )
        bobs_outage.end()
        bobs.wait_for(3)
        assert summary(bobs.received) == [(*event, 200) for event in made["bob"]]
        assert all(request.verified for request in bobs.received)
        deliveries = live.finished_deliveries("bob", bobs_webhook, 3)
        assert [delivery["status"] for delivery in deliveries] == ["delivered"] * 3
        *failed, succeeded = deliveries[0]["attempt_log"]
        assert len(failed) >= 3
        assert all(attempt["response_status"] is None and attempt["error"] for attempt in failed), failed
        assert succeeded["response_status"] == 200
        assert [attempt_statuses(delivery) for delivery in deliveries[1:]] == [[200], [200]]


def test_a_worker_killed_mid_request_loses_nothing(killed_mid_request):
    killed = killed_mid_request
    live, receiver = killed.live, killed.receiver
    # Sent again once the dead worker's claim lapses, by the worker started since; then the event
    # made while no worker ran.
    remaining = killed.first.at + KILLED_CLAIM + 30 - time.time()
    again = killed.arrivals.wait_for(2, timeout=max(remaining, 1))[1]
    assert again.id == killed.first.id
    assert again.at - killed.first.at > KILLED_CLAIM - 2, "sent again before the claim lapsed"

    delivered = receiver.wait_for(3)  # the first answered once nobody was waiting for it
    assert [request.id for request in delivered[:2]] == [killed.first.id] * 2
    assert [request.payload["data"]["id"] for request in delivered] == [killed.tasks[0], *killed.tasks]
    assert all(request.verified for request in delivered)
    deliveries = live.finished_deliveries("alice", killed.webhook, 2)
    assert [delivery["status"] for delivery in deliveries] == ["delivered"] * 2
    assert [attempt_statuses(delivery) for delivery in deliveries] == [[200], [200]]  # the killed: none
    assert len(killed.arrivals.seen) == 3


def test_a_reminder_arrives_on_time_and_not_for_a_completed_or_deleted_task(live):
    with receiving() as receiver:
        live.worker()
        webhook = live.subscribe("alice", receiver, ["task.reminder"])
        due = in_the_future(2.5)
        completed = live.create_task("alice", title="Done before its reminder", remind_at=due)["id"]
        deleted = live.create_task("alice", title="Deleted before its reminder", remind_at=due)["id"]
        # Reminded after those two would have been: once it is here, they would be too.
        reminded = live.create_task("alice", title="Call the plumber", remind_at=in_the_future(3))
        live.ok("alice", "PATCH", f"/api/tasks/{completed}/complete")
        live.ok("alice", "DELETE", f"/api/tasks/{deleted}", status=204)
        assert time.time() < epoch(due), "the machine took too long: a reminder became due meanwhile"

        [reminder] = receiver.wait_for(1, timeout=30)
        late = reminder.at - epoch(reminded["remind_at"])
        print(f"the reminder arrived {late:.3f} s after its time")
        assert 0 <= late < 3
        assert reminder.verified
        assert reminder.type == "task.reminder"
        assert reminder.payload["data"] == live.task("alice", reminded["id"])
        assert reminder.payload["timestamp"] == reminded["remind_at"]
        assert receiver.delivered() == [reminder]
        assert [delivery["event"]["type"] for delivery in live.deliveries("alice", webhook)] == [
            "task.reminder"
        ]


def test_another_users_webhook_receives_nothing_of_theirs(live):
    with receiving() as alices, receiving() as bobs:
        live.worker()
        live.subscribe("alice", alices, ["*"])
        bobs_webhook = live.subscribe("bob", bobs, ["*"])
        reminded = live.create_task("alice", title="Alice's", remind_at=in_the_future(1))["id"]
        other = live.create_task("alice", title="Alice's too")["id"]
        live.ok("alice", "PATCH", f"/api/tasks/{other}/complete")
        live.ok("alice", "DELETE", f"/api/tasks/{other}", status=204)
        category = live.ok("alice", "POST", "/api/categories", {"name": "Alice's"}, status=201)["id"]
        alices_events = [
            ("task.created", reminded),
            ("task.created", other),
            ("task.completed", other),
            ("task.deleted", other),
            ("category.created", category),
            ("task.reminder", reminded),
        ]
        alices.wait_for(len(alices_events))
        assert Counter(
            (request.type, request.payload["data"]["id"]) for request in alices.received
        ) == Counter(alices_events)

        # Bob's deliveries go oldest first: one of Alice's events sent to him would come before this.
        bobs_task = live.create_task("bob", title="Bob's")["id"]
        [request] = bobs.wait_for(1)
        assert (request.type, request.payload["data"]["id"], request.verified) == (
            "task.created",
            bobs_task,
            True,
        )
        assert [delivery["event"]["id"] for delivery in live.deliveries("bob", bobs_webhook)] == [request.id]
        assert len(alices.received) == len(alices_events)


def test_one_users_hanging_receiver_does_not_delay_another_users_deliveries(live):
    with receiving() as alices, receiving() as bobs:
        alices_arrivals = Arrivals(alices)
        alices.hang.set()
        live.worker("--threads", "2", WEBHOOK_TIMEOUT="20")
        live.subscribe("alice", alices, TASK_CHANGES)
        live.subscribe("bob", bobs, TASK_CHANGES)
        alices_tasks = [live.create_task("alice", title="Sent to a receiver that hangs")["id"]]
        alices_arrivals.wait_for(1)

        for number in range(3):
            made = time.time()
            bobs_task = live.create_task("bob", title=f"Bob's {number}")["id"]
            request = bobs.wait_for(number + 1)[number]
            print(f"Bob's event {number} arrived {request.at - made:.3f} s after it was made")
            assert request.at - made < 3
            assert request.payload["data"]["id"] == bobs_task
            alices_tasks.append(live.create_task("alice", title=f"Behind the one that hangs {number}")["id"])
        assert alices.received == []  # still hanging

        alices.released.set()
        delivered = alices.wait_for(4)
        assert [request.payload["data"]["id"] for request in delivered] == alices_tasks
        assert len({arrival.id for arrival in alices_arrivals.seen}) == len(alices_arrivals.seen) == 4


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off_at_the_timeout(live):
    """WEBHOOK_TIMEOUT bounds a delivery, not each read of it: a delivery that outlived its claim
    (WEBHOOK_TIMEOUT + CLAIM_MARGIN_SECONDS) would be sent again beside itself, and one receiver
    could hold a worker's thread for as long as it liked."""
    timeout = 2
    with dripping(seconds=timeout + CLAIM_MARGIN_SECONDS / 2) as url:
        live.worker(WEBHOOK_TIMEOUT=str(timeout))
        webhook = live.ok(
            "alice", "POST", "/api/webhooks", {"url": url, "event_types": ["task.created"]}, status=201
        )["id"]
        live.create_task("alice", title="Answered slowly")

        def attempted() -> list[dict[str, Any]]:
            return live.deliveries("alice", webhook)[0]["attempt_log"]

        attempt = eventually(attempted, "an attempt recorded")[0]
        assert attempt["duration_ms"] < (timeout + 1.5) * 1000, attempt
        assert attempt["response_status"] is None or attempt["error"], attempt


def test_two_workers_deliver_each_event_once(live):
    with receiving() as alices, receiving() as bobs:
        live.worker()
        live.worker()
        webhooks = {
            "alice": live.subscribe("alice", alices, ["task.created", "task.reminder"]),
            "bob": live.subscribe("bob", bobs, ["task.created"]),
        }
        remind_at = in_the_future(2)

        def make(number: int) -> None:  # Alice: 10 tasks, 5 with a reminder; Bob: 15 tasks
            if number < 10:
                live.create_task(
                    "alice", title=f"Alice's {number}", remind_at=remind_at if number < 5 else None
                )
            else:
                live.create_task("bob", title=f"Bob's {number}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(make, range(25)))

        for user, receiver in (("alice", alices), ("bob", bobs)):
            received = receiver.wait_for(15)
            assert all(request.verified for request in received)
            assert Counter(request.id for request in received).most_common(1)[0][1] == 1
            deliveries = live.finished_deliveries(user, webhooks[user], 15)
            assert {(delivery["status"], delivery["attempts"]) for delivery in deliveries} == {
                ("delivered", 1)
            }
            assert sorted(delivery["event"]["id"] for delivery in deliveries) == sorted(
                r.id for r in received
            )
        assert Counter(request.type for request in alices.received) == {
            "task.created": 10,
            "task.reminder": 5,
        }
        assert len(alices.received) == len(bobs.received) == 15  # nothing more came meanwhile


def test_sigterm_stops_the_worker_with_exit_code_0_once_the_request_in_flight_is_answered(live):
    with receiving() as receiver:
        arrivals = Arrivals(receiver)
        receiver.delay = 1.5
        worker = live.worker(WEBHOOK_TIMEOUT="10")
        webhook = live.subscribe("alice", receiver, ["task.created"])
        task = live.create_task("alice", title="In flight when the worker is stopped")["id"]
        arrivals.wait_for(1)

        worker.process.send_signal(signal.SIGTERM)
        code = worker.process.wait(timeout=30)
        stopped = time.time()

        assert code == 0, worker.log.read_text()
        [request] = receiver.delivered()
        assert request.at < stopped
        assert request.payload["data"]["id"] == task
        [delivery] = live.deliveries("alice", webhook)
        assert (delivery["status"], attempt_statuses(delivery)) == ("delivered", [200])
        assert "Stopping once the deliveries being sent are done" in worker.log.read_text()


def test_sigterm_leaves_the_deliveries_not_sent_yet_to_the_next_worker_at_once(live):
    with receiving() as receiver:
        arrivals = Arrivals(receiver)
        receiver.delay = 1.5
        worker = live.worker(WEBHOOK_TIMEOUT="10")
        webhook = live.subscribe("alice", receiver, ["task.created"])
        tasks = [live.create_task("alice", title=f"Task {number}")["id"] for number in range(4)]
        arrivals.wait_for(1)

        worker.process.send_signal(signal.SIGTERM)
        started_stopping = time.time()
        code = worker.process.wait(timeout=60)
        took = time.time() - started_stopping
        sent_before_stopping = len(arrivals.seen)

        assert code == 0, worker.log.read_text()
        # It finishes the request in flight (1.5 s at most), not every delivery pending.
        assert sent_before_stopping == 1, (
            f"{sent_before_stopping} requests sent, in {took:.1f} s after SIGTERM"
        )
        statuses = [delivery["status"] for delivery in live.deliveries("alice", webhook)]
        assert statuses == ["delivered", "pending", "pending", "pending"]

        # Its claim given up, the next worker sends the rest at once, not once the claim lapses (10 s
        # after the last request began + CLAIM_MARGIN_SECONDS).
        live.worker()
        resumed = time.time()
        delivered = receiver.wait_for(4)
        waited = arrivals.seen[1].at - resumed
        assert waited < 5, f"the next worker sent the next delivery {waited:.1f} s after it started"
        assert [request.payload["data"]["id"] for request in delivered] == tasks
        assert len({request.id for request in delivered}) == 4
