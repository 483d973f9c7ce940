"""RUN_WORKER=true: one container (a Hugging Face Space) runs the worker beside the server.

Started by bin/docker-entrypoint.sh as the image runs it, with DEBUG off, `python -m config.serve`
starts `manage.py worker` as its child before the server; the worker sends a webhook's delivery to a
real receiver on loopback (webhooks.tests.receiver, which verifies the signature); and however the
server stops, the worker stops with it:

- granian runs in the launcher's process, which passes its SIGTERM (or a terminal's Ctrl+C, which
  reaches the server's process group, not the worker's) on to the worker and waits for it, while a
  delivery on its way gets its answer; a second Ctrl+C is passed on too, and stops it at once;
- gunicorn and uvicorn replace the launcher (exec): the worker gets SIGTERM when its parent exits
  (Linux's parent-death signal), and so also when the server is killed.

And the Python receiver docs/webhooks.md gives, as it is written, receives what that worker sends.
On PostgreSQL when the suite runs there, else on an SQLite file.
"""

import contextlib
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.net import (
    Server,
    free_port,
    get,
    new_database,
    running,
    seed_demo_users,
    send,
    send_json,
    server_env,
    serving,
)
from webhooks.tests.receiver import Receiver, receiving

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "bin" / "docker-entrypoint.sh"

pytestmark = pytest.mark.live

WORKER_COMMAND = ["manage.py", "worker"]


# --- processes, as /proc shows them ------------------------------------------------------------------


def parent_and_state(pid: int) -> tuple[int, str] | None:
    """The process's parent and state (R, S, Z...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return int(parent), state


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def is_running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie, which no one has reaped, has)."""
    found = parent_and_state(pid)
    return found is not None and found[1] != "Z"


def workers_started_by(pid: int) -> list[int]:
    """The `manage.py worker` processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (parent_and_state(int(entry.name)) or (0, ""))[0] != pid:
            continue
        if command_line(int(entry.name))[1:3] == WORKER_COMMAND:
            found.append(int(entry.name))
    return found


def the_worker_of(server: Server) -> int:
    """The worker the server's launcher started, once it says it has started (its handlers of
    SIGTERM are in place then)."""
    deadline = time.monotonic() + 30
    while not (found := workers_started_by(server.process.pid)):
        assert time.monotonic() < deadline, f"no worker beside the server:\n{server.log.read_text()}"
        time.sleep(0.1)
    [worker] = found
    while not re.search(rf"^Worker \S+-{worker} started", server.log.read_text(), re.MULTILINE):
        assert time.monotonic() < deadline, f"the worker never started:\n{server.log.read_text()}"
        time.sleep(0.1)
    return worker


def wait_until_gone(pid: int, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        assert time.monotonic() < deadline, f"the worker {pid} still runs:\n{log.read_text()}"
        time.sleep(0.1)


def tracebacks_but_gunicorns_logging_errors(text: str) -> int:
    """How many tracebacks the log holds besides those of the "--- Logging error ---" reports that
    the logging module prints when a gunicorn worker stops: gunicorn's "Worker exiting" line is
    formatted with %(process)d, which ironclad/logs.py leaves unset (logging.logProcesses = False).
    Two tracebacks each (SystemExit, then the TypeError). Nothing of the worker beside the server;
    counted, since the two processes' lines interleave in the one log."""
    return text.count("Traceback (most recent call last)") - 2 * text.count("--- Logging error ---")


# --- the server, with the worker beside it --------------------------------------------------------


def serving_env(tmp_path: Path, database_url: str, server_name: str) -> tuple[dict[str, str], str]:
    """The entrypoint's environment, RUN_WORKER=true, with the demo users seeded: and Alice's JWT."""
    env = server_env(
        port=free_port(),
        database_url=database_url,
        static_root=tmp_path / "static",
        HTTPS_ONLY="false",
        SERVER=server_name,
        RUN_WORKER="true",
        WEB_CONCURRENCY="2",
        # The receiver is on loopback, over plain HTTP.
        WEBHOOK_ALLOW_PRIVATE_URLS="true",
        WORKER_POLL_SECONDS="0.2",
    )
    [token] = seed_demo_users(env, "alice@example.com")
    return env, token


def a_change_is_delivered(server: Server, token: str, receiver: Receiver) -> None:
    """A webhook made through the API receives the task made next, signed with its secret."""
    auth = {"Authorization": f"Bearer {token}"}
    created = send_json(
        "POST", f"{server.url}/api/webhooks", {"url": receiver.url, "event_types": ["task.*"]}, auth
    )
    assert created.status == 201, created.text
    receiver.secret = created.json()["data"]["secret"]
    task = send_json("POST", f"{server.url}/api/tasks", {"title": "Water the plants"}, auth)
    assert task.status == 201, task.text

    [received] = receiver.wait_for(1)
    assert received.verified
    assert received.type == "task.created"
    assert received.payload["data"]["title"] == "Water the plants"


@pytest.mark.parametrize("server_name", ["granian", "gunicorn", "uvicorn"])
def test_the_worker_runs_beside_the_server_and_stops_with_it(server_name, tmp_path):
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url, receiving() as receiver:
        env, token = serving_env(tmp_path, database_url, server_name)
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            worker = the_worker_of(server)
            a_change_is_delivered(server, token, receiver)

            # What Docker (or the Space) does to stop the container: SIGTERM to its main process.
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=30) == 0, log.read_text()
            wait_until_gone(worker, log)
            assert time.monotonic() - started < 15

    text = log.read_text()
    assert "Stopping now" not in text  # one SIGTERM, not two: it finished what it was sending
    assert "stopped." in text, text  # the worker's last line: "Worker <name> stopped."
    assert " ERROR " not in text, text
    assert tracebacks_but_gunicorns_logging_errors(text) == 0, text


def test_ctrl_c_in_a_terminal_stops_both_gracefully(tmp_path):
    """Ctrl+C sends SIGINT to the terminal's foreground process group: the server's. The worker,
    in a group of its own, is told to stop once, by the launcher, and finishes cleanly."""
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url:
        env, _ = serving_env(tmp_path, database_url, "granian")
        # A granian worker sent both the terminal's SIGINT and granian's SIGTERM now and then waits
        # out its graceful timeout before granian kills it (without RUN_WORKER too): keep it short.
        env["WEB_GRACEFUL_TIMEOUT"] = "5"
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            worker = the_worker_of(server)
            os.killpg(server.process.pid, signal.SIGINT)  # as the terminal does
            assert server.process.wait(timeout=30) == 0, log.read_text()
            wait_until_gone(worker, log)
    text = log.read_text()
    assert "Stopping now" not in text
    assert "stopped." in text, text
    assert "Traceback" not in text, text


def a_delivery_is_on_its_way(server: Server, token: str, receiver: Receiver) -> None:
    """A delivery sent to `receiver`, which holds it unanswered (receiver.hang) until released."""
    auth = {"Authorization": f"Bearer {token}"}
    created = send_json(
        "POST", f"{server.url}/api/webhooks", {"url": receiver.url, "event_types": ["task.*"]}, auth
    )
    receiver.secret = created.json()["data"]["secret"]
    receiver.hang.set()
    send_json("POST", f"{server.url}/api/tasks", {"title": "Water the plants"}, auth)
    deadline = time.monotonic() + 20
    while "send_webhook_deliveries state=RUNNING" not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.1)
    time.sleep(0.5)  # the request is sent, and waits for its answer


def test_sigterm_lets_the_delivery_on_its_way_finish(tmp_path):
    """The server stops at once; the worker waits for the answer to the delivery it is sending,
    records it, and only then exits; then the launcher exits 0."""
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url, receiving() as receiver:
        env, token = serving_env(tmp_path, database_url, "granian")
        env["WEBHOOK_TIMEOUT"] = "20"
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            worker = the_worker_of(server)
            a_delivery_is_on_its_way(server, token, receiver)

            server.process.send_signal(signal.SIGTERM)
            time.sleep(2)
            assert is_running(worker), log.read_text()  # waiting for the answer
            receiver.released.set()
            assert server.process.wait(timeout=30) == 0, log.read_text()
            wait_until_gone(worker, log)
            [received] = receiver.delivered()
            assert received.verified
    text = log.read_text()
    assert re.search(r"delivery \d+ \(task\.created\): 200", text), text  # recorded before it stopped
    assert "stopped." in text, text
    assert "Stopping now" not in text
    assert "Traceback" not in text, text


def test_a_second_ctrl_c_stops_the_worker_at_once(tmp_path):
    """The first Ctrl+C lets the delivery on its way finish; a second one, passed on by the
    launcher, stops the worker at once, as it stops the worker run in a terminal."""
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url, receiving() as receiver:
        env, token = serving_env(tmp_path, database_url, "granian")
        env |= {"WEBHOOK_TIMEOUT": "30", "WEB_GRACEFUL_TIMEOUT": "5"}
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            worker = the_worker_of(server)
            a_delivery_is_on_its_way(server, token, receiver)

            os.killpg(server.process.pid, signal.SIGINT)
            time.sleep(2)
            assert is_running(worker), log.read_text()
            started = time.monotonic()
            os.killpg(server.process.pid, signal.SIGINT)
            wait_until_gone(worker, log, timeout=10)
            assert time.monotonic() - started < 5
            server.process.wait(timeout=30)
    assert "Stopping now" in log.read_text()


def test_the_worker_stops_when_the_server_is_killed(tmp_path):
    """SIGKILL leaves the launcher no time to stop the worker: its parent-death signal does. (More
    than once, now and then: the launcher runs several threads, and the worker is handed from one
    to the next as they end, each time with the signal; the second stops it at once.)"""
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url:
        env, _ = serving_env(tmp_path, database_url, "granian")
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            worker = the_worker_of(server)
            server.process.kill()
            server.process.wait(timeout=10)
            wait_until_gone(worker, log)
            with contextlib.suppress(ProcessLookupError):  # granian's own workers, left behind
                os.killpg(server.process.pid, signal.SIGKILL)
    assert "Stopping once the deliveries being sent are done" in log.read_text()


def test_without_run_worker_no_worker_starts(tmp_path):
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url:
        env, _ = serving_env(tmp_path, database_url, "granian")
        env["RUN_WORKER"] = "false"
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            time.sleep(1)
            assert workers_started_by(server.process.pid) == []


# --- the receiver docs/webhooks.md gives -------------------------------------------------------------


def the_docs_python_receiver() -> str:
    page = (ROOT / "docs" / "webhooks.md").read_text()
    section = page.split("### In Python", 1)[1]
    match = re.search(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert match, "docs/webhooks.md has no receiver in Python"
    return match.group(1)


def test_the_receiver_the_docs_give_verifies_each_event_and_prints_it_once(tmp_path):
    """docs/webhooks.md's receiver.py, as it is written, receives what the worker sends: each event
    once, a redelivery dropped by its webhook-id, and after a rotation still verified with the
    secret it was given (both secrets sign then)."""
    (tmp_path / "receiver.py").write_text(the_docs_python_receiver())
    receiver_port = free_port()
    receiver_output = tmp_path / "receiver.out"
    log = tmp_path / "entrypoint.log"
    with new_database(tmp_path) as database_url:
        env, token = serving_env(tmp_path, database_url, "granian")
        auth = {"Authorization": f"Bearer {token}"}
        with serving([str(ENTRYPOINT)], env=env, log=log, cwd=tmp_path) as server:
            created = send_json(
                "POST",
                f"{server.url}/api/webhooks",
                {"url": f"http://127.0.0.1:{receiver_port}/hooks", "event_types": ["*"]},
                auth,
            ).json()["data"]
            receiver_env = {**env, "WEBHOOK_SECRET": created["secret"], "RECEIVER_PORT": str(receiver_port)}
            with running(
                [sys.executable, str(tmp_path / "receiver.py")],
                env=receiver_env,
                log=receiver_output,
                cwd=tmp_path,
                ready=lambda: listening(receiver_port),
            ):
                hooks = f"{server.url}/api/webhooks/{created['id']}"
                task = send_json("POST", f"{server.url}/api/tasks", {"title": "Water the plants"}, auth)
                task_id = task.json()["data"]["id"]
                wait_for_lines(receiver_output, 1)

                [first] = get(f"{hooks}/deliveries", **auth).json()["data"]
                assert first["status"] == "delivered" and first["attempt_log"][0]["response_status"] == 204
                redelivered = send("POST", f"{hooks}/deliveries/{first['id']}/redeliver", None, auth)
                assert redelivered.status == 202
                rotated = send("POST", f"{hooks}/rotate-secret", None, auth).json()["data"]
                assert rotated["secret"] != created["secret"]
                assert send("PATCH", f"{server.url}/api/tasks/{task_id}/complete", None, auth).status == 200
                deliveries = wait_for_deliveries(hooks, auth, delivered=3)

                # Sent three times, printed twice: the redelivery of the first event was dropped.
                assert [line.split()[1:] for line in wait_for_lines(receiver_output, 2)] == [
                    ["task.created", str(task_id), "Water", "the", "plants"],
                    ["task.completed", str(task_id), "Water", "the", "plants"],
                ]
                assert all(delivery["attempt_log"][-1]["response_status"] == 204 for delivery in deliveries)
    assert "Traceback" not in receiver_output.read_text()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_lines(output: Path, count: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(lines := output.read_text().splitlines()) < count:
        assert time.monotonic() < deadline, f"the receiver printed:\n{output.read_text()}"
        time.sleep(0.1)
    return lines


def wait_for_deliveries(
    hooks: str, auth: dict[str, str], *, delivered: int, timeout: float = 20
) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        deliveries = get(f"{hooks}/deliveries", **auth).json()["data"]
        if sum(delivery["status"] == "delivered" for delivery in deliveries) >= delivered:
            return deliveries
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.1)
