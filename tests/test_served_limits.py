"""Limits as deployed (granian, DEBUG off, PostgreSQL): the database deadline of every request, the
caching headers of signed-in answers, and the request headers that only a real server can send
(two Idempotency-Key headers; a condition that does not decode)."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
import pytest

from chat.tests.conftest import FakeLLM, completion
from tests.net import (
    ROOT,
    free_port,
    get,
    manage,
    send,
    send_raw,
    server_env,
    serving_alice,
)

pytestmark = [pytest.mark.live, pytest.mark.postgres("the deadline is PostgreSQL's statement_timeout")]

DEADLINE = 0.5  # seconds: DATABASE_STATEMENT_TIMEOUT of the server below


@dataclass
class Live:
    url: str
    database_url: str
    token: str
    llm: FakeLLM

    def headers(self, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **more}

    def task_id(self) -> int:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            [(task_id,)] = conn.execute("SELECT min(id) FROM task").fetchall()
            return task_id


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("served-limits")
    llm = FakeLLM()
    llm.thread.start()
    with serving_alice(
        folder,
        # One worker, one thread: the request after a timeout uses the same connection.
        WEB_CONCURRENCY="1",
        WEB_THREADS="1",
        DATABASE_STATEMENT_TIMEOUT=str(DEADLINE),
        CHAT_PROVIDER="openai",
        CHAT_OPENAI_BASE_URL=llm.url,
        CHAT_OPENAI_API_KEY="test-key",
    ) as (server, token):
        yield Live(server.url, server.env["DATABASE_URL"], token, llm)
    llm.server.shutdown()
    llm.server.server_close()


class TestDeadline:
    def test_a_statement_past_it_is_a_503_and_the_connection_serves_the_next_request(self, live):
        task_id = live.task_id()
        path = f"{live.url}/api/tasks/{task_id}"
        with psycopg.connect(live.database_url) as holder:  # a transaction that keeps the task locked
            holder.execute("SELECT 1 FROM task WHERE id = %s FOR UPDATE", [task_id])
            started = time.monotonic()

            response = send("PATCH", path, b'{"title": "Renamed"}', live.headers())

            waited = time.monotonic() - started
            holder.rollback()
        assert response.status == 503, response.text
        assert json.loads(response.body)["error"]["code"] == "database_timeout"
        assert DEADLINE <= waited < DEADLINE + 2

        again = send("PATCH", path, b'{"title": "Renamed"}', live.headers())
        assert again.status == 200, again.text

    def test_the_chats_model_may_take_longer(self, live):
        live.llm.script = [("sleep", 3 * DEADLINE, completion("Done thinking."))]

        response = send("POST", f"{live.url}/api/chat", b'{"message": "think hard"}', live.headers())

        assert response.status == 200, response.text
        assert json.loads(response.body)["data"]["response"] == "Done thinking."

    def test_management_commands_have_none(self, live):
        script = "from django.db import connection; connection.cursor().execute('SELECT pg_sleep(%s)', [1.0])"
        env = server_env(
            port=free_port(),
            database_url=live.database_url,
            static_root=ROOT,
            DATABASE_STATEMENT_TIMEOUT=str(DEADLINE),
        )

        result = manage("shell", "-c", script, **env)

        assert result.returncode == 0, result.stderr


class TestCaching:
    def test_signed_in_answers_are_private_and_vary_by_credential(self, live):
        path = f"{live.url}/api/tasks/{live.task_id()}"

        for response in (
            get(f"{live.url}/api/tasks", **live.headers()),
            get(path, **live.headers()),
            get(path, **live.headers(**{"If-None-Match": get(path, **live.headers()).headers["ETag"]})),
            get(f"{live.url}/api/tasks/999999999", **live.headers()),
        ):
            assert response.status in (200, 304, 404)
            assert response.headers["Cache-Control"] == "private, no-cache"
            varies = {name.strip().lower() for name in response.headers["Vary"].split(",")}
            assert {"authorization", "cookie"} <= varies

    def test_public_pages_are_as_they_were(self, live):
        for path in ("/health", "/api/schema"):
            response = get(f"{live.url}{path}")
            assert response.status == 200
            assert "private" not in (response.headers.get("Cache-Control") or "")
        refused = get(f"{live.url}/api/tasks")
        assert refused.status == 401
        assert "Cache-Control" not in refused.headers


def raw_request(url: str, head: list[bytes], body: bytes = b"") -> tuple[int, dict]:
    """A request written byte for byte (two headers of one name, bytes that are not ASCII): its
    status and JSON body."""
    host = urlsplit(url).hostname
    lines = [*head, f"Host: {host}".encode(), f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    answer = send_raw(url, b"\r\n".join([*lines, b"", b""]) + body)
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2] or b"{}")


class TestHeaders:
    def test_two_idempotency_keys_are_a_400_and_nothing_is_created(self, live):
        auth = f"Authorization: Bearer {live.token}".encode()
        before = get(f"{live.url}/api/tasks", **live.headers())

        status, answer = raw_request(
            live.url,
            [
                b"POST /api/tasks HTTP/1.1",
                auth,
                b"Content-Type: application/json",
                b"Idempotency-Key: first",
                b"Idempotency-Key: second",
            ],
            b'{"title": "Twice keyed"}',
        )

        assert status == 400
        assert list(answer["error"]["details"]) == ["Idempotency-Key"]
        after = get(f"{live.url}/api/tasks", **live.headers())
        assert json.loads(after.body)["meta"]["total"] == json.loads(before.body)["meta"]["total"]

    @pytest.mark.parametrize("header", [b"If-Match", b"If-None-Match"])
    def test_a_condition_that_does_not_decode_is_a_400_not_a_412(self, live, header):
        auth = f"Authorization: Bearer {live.token}".encode()
        task_id = live.task_id()

        status, answer = raw_request(
            live.url,
            [
                f"PATCH /api/tasks/{task_id} HTTP/1.1".encode(),
                auth,
                b"Content-Type: application/json",
                header + b': "\xc3\xa9t\xc3\xa9"',
            ],
            b'{"title": "Summer"}',
        )

        assert status == 400, answer
        assert list(answer["error"]["details"]) == [header.decode()]
