"""What Idempotency-Key answers may cost one account: each answer at most
IDEMPOTENCY_ANSWER_MAX_BYTES, all of a user's at most IDEMPOTENCY_USER_MAX_BYTES, whatever is sent.
The abusive sequences of the attacker's trial, with the table's size measured before and after."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chat.models import Message
from chat.tests.conftest import completion, tool_call
from idempotency.models import IdempotentRequest
from idempotency.services import ROW_BYTES
from todos.models import DESCRIPTION_MAX_LENGTH, Task

KIB = 1024


def keyed(client, path: str, body: dict, key: str):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def kept_bytes(user) -> int:
    """What the user's kept answers hold: bodies, headers and references."""
    rows = IdempotentRequest.objects.filter(user=user)
    return sum(len(bytes(row.body)) + len(str(row.headers)) + len(str(row.reference or "")) for row in rows)


def table_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('idempotency_key')")
        return cursor.fetchone()[0]


@pytest.fixture
def bounds(settings):
    def set_bounds(*, answer: int = 64 * KIB, user: int = 256 * KIB) -> None:
        settings.IDEMPOTENCY_ANSWER_MAX_BYTES = answer
        settings.IDEMPOTENCY_USER_MAX_BYTES = user

    return set_bounds


@pytest.fixture
def long_tasks(user):
    """100 tasks whose descriptions are as long as they may be: a bulk answer of about 560 KB."""
    Task.objects.bulk_create(
        Task(user=user, title=f"Long {n}", description="d" * DESCRIPTION_MAX_LENGTH) for n in range(100)
    )
    return list(Task.objects.filter(user=user).values_list("pk", flat=True))


class TestEachAnswer:
    def test_a_refusal_quotes_a_short_prefix_of_a_huge_value(self, alice_client, user):
        response = keyed(alice_client, "/api/tasks", {"title": "t", "priority": "x" * 1_000_000}, "huge")

        assert response.status_code == 400
        assert len(response.content) < 1_000
        assert response.json()["error"]["details"]["priority"] == [
            '"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" is not a valid choice.'
        ]
        assert len(bytes(IdempotentRequest.objects.get(user=user).body)) == len(response.content)

    def test_an_answer_too_large_to_keep_is_refused_and_nothing_is_written(
        self, alice_client, user, long_tasks, bounds
    ):
        bounds()
        body = {"action": "update", "ids": long_tasks, "fields": {"priority": "high"}}

        response = keyed(alice_client, "/api/tasks/bulk", body, "bulk")
        again = keyed(alice_client, "/api/tasks/bulk", body, "bulk")

        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "idempotency_answer_too_large"
        assert error["details"]["max_bytes"] == 64 * KIB
        assert error["details"]["answer_bytes"] > 500 * KIB
        assert not Task.objects.filter(user=user, priority="high").exists()
        assert (again.status_code, again.content) == (422, response.content)
        assert again["Idempotent-Replayed"] == "true"
        # Without the key the same request goes through: it is the answer that is too large.
        assert alice_client.post("/api/tasks/bulk", body, format="json").status_code == 200

    def test_a_chat_answer_too_large_to_keep_is_kept_as_its_message_and_read_again(
        self, alice_client, user, make_task, bounds
    ):
        bounds(answer=KIB, user=64 * KIB)
        for n in range(30):
            make_task(user, f"Pending task number {n}")

        first = keyed(alice_client, "/api/chat", {"message": "what's pending?"}, "chat")
        again = keyed(alice_client, "/api/chat", {"message": "what's pending?"}, "chat")

        assert first.status_code == again.status_code == 200
        assert len(first.content) > KIB
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        kept = IdempotentRequest.objects.get(user=user)
        reply = Message.objects.get(user=user, role="assistant")
        assert (bytes(kept.body), kept.reference) == (b"", {"message_id": reply.pk})
        assert Message.objects.filter(user=user).count() == 2  # the assistant ran once

    def test_a_chat_failure_too_large_to_keep_is_read_again_from_its_note(
        self, alice_client, user, make_task, bounds, fake_llm
    ):
        bounds(answer=KIB, user=64 * KIB)
        for n in range(30):
            make_task(user, f"Pending task number {n}")
        fake_llm.script = [completion(tool_calls=[tool_call("list_tasks", {})]), 500]

        first = keyed(alice_client, "/api/chat", {"message": "what's pending?"}, "failing")
        again = keyed(alice_client, "/api/chat", {"message": "what's pending?"}, "failing")

        assert first.status_code == again.status_code == 502
        assert len(first.content) > KIB
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        note = Message.objects.get(user=user, role="assistant")
        assert IdempotentRequest.objects.get(user=user).reference == {"message_id": note.pk}
        assert len(fake_llm.requests) == 2  # the assistant ran once


class TestEachUser:
    def test_expired_answers_are_deleted_when_the_user_claims_a_key(self, alice_client, user, bounds):
        """Whether or not upkeep runs, an account's answers older than 24 hours leave its room."""
        bounds(user=128 * KIB)
        for n in range(20):
            assert keyed(alice_client, "/api/tasks", {"title": f"T{n}"}, f"old{n}").status_code == 201
        IdempotentRequest.objects.filter(user=user).update(created_at=timezone.now() - timedelta(hours=25))
        old = IdempotentRequest.objects.filter(user=user).count()

        assert keyed(alice_client, "/api/tasks", {"title": "New"}, "new").status_code == 201

        assert old == 20
        assert list(IdempotentRequest.objects.filter(user=user).values_list("key", flat=True)) == ["new"]

    def test_a_refusal_for_want_of_room_is_not_kept(self, alice_client, user, settings, make_task):
        settings.QUOTAS = {**settings.QUOTAS, "tasks": 1}
        task = make_task(user)
        assert keyed(alice_client, "/api/tasks", {"title": "Second"}, "k").status_code == 409

        alice_client.delete(f"/api/tasks/{task.pk}")
        again = keyed(alice_client, "/api/tasks", {"title": "Second"}, "k")

        assert again.status_code == 201 and "Idempotent-Replayed" not in again
        assert keyed(alice_client, "/api/tasks", {"title": "Second"}, "k")["Idempotent-Replayed"] == "true"

    def test_past_the_bound_a_new_key_is_refused_with_when_to_retry(
        self, alice_client, bob_client, user, bounds
    ):
        bounds(user=128 * KIB)
        statuses = [
            keyed(alice_client, "/api/tasks", {"title": f"T{n}"}, f"k{n}").status_code for n in range(60)
        ]

        assert 201 in statuses and statuses[-1] == 409
        refused = keyed(alice_client, "/api/tasks", {"title": "late"}, "late")
        error = refused.json()["error"]
        assert (error["code"], error["details"]) == (
            "quota_exceeded",
            {"resource": "idempotency_bytes", "limit": 128 * KIB},
        )
        assert 86_000 < int(refused["Retry-After"]) <= 86_400  # when the oldest kept answer expires
        # Without a key, and for another user, nothing is refused; a kept answer is still replayed.
        assert alice_client.post("/api/tasks", {"title": "unkeyed"}).status_code == 201
        assert keyed(bob_client, "/api/tasks", {"title": "Bob's"}, "k0").status_code == 201
        assert keyed(alice_client, "/api/tasks", {"title": "T0"}, "k0")["Idempotent-Replayed"] == "true"
        assert IdempotentRequest.objects.filter(user=user).count() == statuses.count(201)
        assert sum(row.size for row in IdempotentRequest.objects.filter(user=user)) <= 128 * KIB

    @pytest.mark.postgres("the table's size is PostgreSQL's")
    @pytest.mark.django_db(transaction=True)
    def test_the_trials_abusive_sequences_grow_the_table_by_no_more_than_the_bound(
        self, alice_client, user, long_tasks, bounds
    ):
        """The trial grew the database by about 20 MB in seconds: 1 MB values echoed by kept 400s,
        bulk answers of ~640 KB, and keys without end. The bound here is 256 KiB."""
        bounds(user=256 * KIB)
        before = table_bytes()
        sent = 0

        for n in range(10):
            body = {"title": "t", "priority": "p" * 1_000_000}
            assert keyed(alice_client, "/api/tasks", body, f"echo{n}").status_code == 400
            sent += 1_000_000
        for n in range(10):
            body = {"action": "update", "ids": long_tasks, "fields": {"tags": [f"t{n}"]}}
            assert keyed(alice_client, "/api/tasks/bulk", body, f"bulk{n}").status_code == 422
            sent += 560 * KIB
        statuses = [
            keyed(
                alice_client, "/api/tasks", {"title": f"T{n}", "description": "d" * 4000}, f"k{n}"
            ).status_code
            for n in range(400)
        ]

        assert statuses.count(409) > 300
        assert sent > 15_000_000
        assert kept_bytes(user) <= 256 * KIB
        assert sum(row.size for row in IdempotentRequest.objects.filter(user=user)) <= 256 * KIB
        # The table's pages and index entries, the claims' dead row versions among them.
        assert table_bytes() - before < 1024 * KIB
        assert all(row.size >= len(bytes(row.body)) + ROW_BYTES for row in IdempotentRequest.objects.all())
