"""While a language model thinks, the chat holds no transaction and no lock in PostgreSQL.

A real server (pytest-django's live server) answers /api/chat; the fake model, while the request
waits on it, looks at PostgreSQL from its own connection.
"""

import json
import time
import urllib.request

import psycopg
import pytest
from django.conf import settings

from chat.tests.conftest import completion, tool_call

SESSIONS = """
SELECT a.pid, a.state, a.xact_start IS NOT NULL AS in_transaction,
       array(SELECT l.mode FROM pg_locks l WHERE l.pid = a.pid AND l.locktype <> 'virtualxid') AS locks
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
"""


def sessions_now() -> list[tuple]:
    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname=db["NAME"], host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"]
    ) as conn:
        return conn.execute(SESSIONS).fetchall()


@pytest.mark.postgres("looks at pg_stat_activity")
def test_no_transaction_or_lock_is_held_while_the_model_thinks(
    live_server, fake_llm, user, make_task, session, session_cookie
):
    task = make_task(user, "Water the plants")
    seen_while_thinking: list[list[tuple]] = []

    def think_for_seconds():
        seen_while_thinking.append(sessions_now())
        time.sleep(1.5)
        seen_while_thinking.append(sessions_now())
        return completion("Done: the plants are watered.")

    fake_llm.script = [
        completion(tool_calls=[tool_call("complete_task", {"task_id": task.pk})]),
        think_for_seconds,
    ]
    request = urllib.request.Request(  # noqa: S310 - the live server on loopback
        f"{live_server.url}/api/chat",
        data=json.dumps({"message": "I watered the plants"}).encode(),
        headers={
            "Content-Type": "application/json",
            "Cookie": f"better-auth.session_token={session_cookie(session.token)}",
            "Origin": "http://localhost:3000",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        assert response.status == 200
        assert json.loads(response.read())["data"]["tool_calls"][0]["result"]["status"] == "completed"

    task.refresh_from_db()
    assert task.completed
    assert len(seen_while_thinking) == 2
    for sessions in seen_while_thinking:
        assert sessions, "the server's own connection should be visible"
        assert [s for s in sessions if s[2] or s[3]] == [], sessions  # none in a transaction, none locking
