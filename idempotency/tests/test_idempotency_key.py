"""Idempotency-Key on POST /api/tasks, /api/categories, /api/chat, /api/tasks/bulk and
PATCH /api/tasks/{id}/complete: a retry gets the first answer, nothing runs twice."""

import threading
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from chat.models import Message
from idempotency.models import IdempotentRequest
from tests.net import run_concurrently, the_test_database_url, wait_until_blocked_on_a_lock
from todos import services
from todos.models import Category, Task


def send(client, method: str, path: str, body=None, *, key: str | None = "key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return getattr(client, method)(path, body, format="json", **headers)


def assert_replayed(first, again) -> None:
    assert again["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.get("ETag") == first.get("ETag")


class TestReplay:
    def test_a_retried_create_gets_the_first_answer_and_makes_one_task(self, alice_client, user):
        first = send(alice_client, "post", "/api/tasks", {"title": "Buy milk"})
        again = send(alice_client, "post", "/api/tasks", {"title": "Buy milk"})

        assert first.status_code == 201 and "Idempotent-Replayed" not in first
        assert_replayed(first, again)
        assert again["Content-Type"] == "application/json"
        assert Task.objects.filter(user=user).count() == 1

    def test_without_a_key_a_retry_runs_again(self, alice_client, user):
        for _ in range(2):
            assert (
                send(alice_client, "post", "/api/tasks", {"title": "Buy milk"}, key=None).status_code == 201
            )
        assert Task.objects.filter(user=user).count() == 2

    def test_the_body_is_compared_as_json_not_as_bytes(self, alice_client, user):
        first = alice_client.generic(
            "POST",
            "/api/tasks",
            '{"title": "T", "priority": "high"}',
            "application/json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
        again = alice_client.generic(
            "POST",
            "/api/tasks",
            '{"priority":"high","title":"T"}',
            "application/json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert_replayed(first, again)

    def test_a_category_create(self, alice_client, user):
        first = send(alice_client, "post", "/api/categories", {"name": "Home"})
        assert_replayed(first, send(alice_client, "post", "/api/categories", {"name": "Home"}))
        assert Category.objects.count() == 1

    def test_a_retried_toggle_does_not_toggle_back(self, alice_client, user, make_task):
        task = make_task(user)
        first = send(alice_client, "patch", f"/api/tasks/{task.pk}/complete")
        again = send(alice_client, "patch", f"/api/tasks/{task.pk}/complete")

        assert first.json()["data"]["completed"] is True
        assert_replayed(first, again)
        task.refresh_from_db()
        assert task.completed is True

    def test_a_retried_chat_message_runs_the_assistant_once(self, alice_client, user):
        first = send(alice_client, "post", "/api/chat", {"message": "add buy milk"})
        again = send(alice_client, "post", "/api/chat", {"message": "add buy milk"})

        assert first.status_code == 200
        assert_replayed(first, again)
        assert Task.objects.filter(user=user).count() == 1
        assert Message.objects.filter(role="user").count() == 1
        assert Message.objects.count() == 2  # the message and the one reply

    def test_a_retried_bulk_action(self, alice_client, user, make_task):
        ids = [make_task(user).pk, make_task(user).pk]
        first = send(alice_client, "post", "/api/tasks/bulk", {"action": "delete", "ids": ids})
        again = send(alice_client, "post", "/api/tasks/bulk", {"action": "delete", "ids": ids})
        assert first.status_code == 200
        assert_replayed(first, again)

    def test_the_compatibility_prefix_is_the_same_route(self, alice_client, user):
        first = send(alice_client, "post", "/api/tasks", {"title": "T"})
        assert_replayed(first, send(alice_client, "post", f"/api/{user.pk}/tasks/", {"title": "T"}))

    def test_a_refusal_is_kept_too(self, alice_client, user):
        first = send(alice_client, "post", "/api/tasks", {"title": ""})
        assert first.status_code == 400
        assert_replayed(first, send(alice_client, "post", "/api/tasks", {"title": ""}))

    def test_a_server_error_that_wrote_nothing_is_not_kept(self, alice_client, user, monkeypatch):
        create = services.task_create
        calls = []

        def failing_once(**fields):
            calls.append(fields)
            if len(calls) == 1:
                raise RuntimeError("a bug, the first time")
            return create(**fields)

        monkeypatch.setattr(services, "task_create", failing_once)
        assert send(alice_client, "post", "/api/tasks", {"title": "T"}).status_code == 500
        again = send(alice_client, "post", "/api/tasks", {"title": "T"})

        assert again.status_code == 201 and "Idempotent-Replayed" not in again
        assert Task.objects.count() == 1

    def test_a_failure_after_a_write_undoes_it_and_a_retry_runs_again(self, alice_client, user, monkeypatch):
        create = services.task_create
        calls = []

        def failing_after_the_write_once(**fields):
            task = create(**fields)
            calls.append(task.pk)
            if len(calls) == 1:
                raise RuntimeError("a bug, after the task was written")
            return task

        monkeypatch.setattr(services, "task_create", failing_after_the_write_once)
        assert send(alice_client, "post", "/api/tasks", {"title": "T"}).status_code == 500
        assert not Task.objects.exists()  # the write went with the failure
        again = send(alice_client, "post", "/api/tasks", {"title": "T"})

        assert again.status_code == 201 and "Idempotent-Replayed" not in again
        assert list(Task.objects.values_list("pk", flat=True)) == [calls[1]]


class TestRefusals:
    def test_the_same_key_with_another_body_is_a_422(self, alice_client, user):
        send(alice_client, "post", "/api/tasks", {"title": "Buy milk"})
        response = send(alice_client, "post", "/api/tasks", {"title": "Buy bread"})

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert Task.objects.filter(user=user).count() == 1

    def test_the_same_key_on_another_route_is_a_422(self, alice_client, user):
        send(alice_client, "post", "/api/tasks", {"name": "x", "title": "x"})
        response = send(alice_client, "post", "/api/categories", {"name": "x", "title": "x"})
        assert response.json()["error"]["code"] == "idempotency_key_reused"

    def test_keys_are_per_user(self, alice_client, bob_client, user, other_user):
        alices = send(alice_client, "post", "/api/tasks", {"title": "Same"})
        bobs = send(bob_client, "post", "/api/tasks", {"title": "Same"})

        assert bobs.status_code == 201 and "Idempotent-Replayed" not in bobs
        assert bobs.json()["data"]["id"] != alices.json()["data"]["id"]
        assert Task.objects.filter(user=other_user).count() == 1
        # A different body under Bob's own use of the key: his, not Alice's.
        assert send(bob_client, "post", "/api/tasks", {"title": "Other"}).status_code == 422

    @pytest.mark.parametrize("key", ["", " ", "x" * 256, "clé", "a\tb", "\x7f"])
    def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_a_400(self, alice_client, key):
        response = send(alice_client, "post", "/api/tasks", {"title": "T"}, key=key)
        assert response.status_code == 400
        assert list(response.json()["error"]["details"]) == ["Idempotency-Key"]
        assert not Task.objects.exists()

    def test_a_quoted_key_is_the_same_key(self, alice_client, user):
        first = send(alice_client, "post", "/api/tasks", {"title": "T"}, key="x" * 255)
        assert_replayed(first, send(alice_client, "post", "/api/tasks", {"title": "T"}, key=f'"{"x" * 255}"'))

    def test_signed_out_the_key_is_not_looked_at(self, api_client, db):
        assert send(api_client, "post", "/api/tasks", {"title": "T"}).status_code == 401
        assert not IdempotentRequest.objects.exists()


class TestExpiry:
    def test_upkeep_deletes_answers_older_than_24_hours(self, alice_client, user):
        send(alice_client, "post", "/api/tasks", {"title": "Old"}, key="old")
        send(alice_client, "post", "/api/tasks", {"title": "New"}, key="new")
        IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

        call_command("upkeep")

        assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]

    def test_an_expired_key_runs_again(self, alice_client, user):
        send(alice_client, "post", "/api/tasks", {"title": "T"})
        IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
        again = send(alice_client, "post", "/api/tasks", {"title": "T"})
        assert again.status_code == 201 and "Idempotent-Replayed" not in again
        assert Task.objects.count() == 2

    def test_a_request_whose_server_died_is_run_again_after_a_while(self, alice_client, user):
        send(alice_client, "post", "/api/tasks", {"title": "T"})
        IdempotentRequest.objects.update(status=None)  # as if its server had died while it ran
        assert send(alice_client, "post", "/api/tasks", {"title": "T"}).status_code == 409
        IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(minutes=10))
        assert send(alice_client, "post", "/api/tasks", {"title": "T"}).status_code == 201
        assert Task.objects.count() == 2


@pytest.mark.postgres("concurrent requests are proven on PostgreSQL")
@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def test_the_same_key_while_the_first_runs_is_a_409_then_a_replay(self, client_for, user, make_task):
        task = make_task(user, "Held")
        first_client, second_client = client_for(user), client_for(user)
        answers = {}

        def first_request() -> None:
            try:
                answers["first"] = send(
                    first_client, "patch", f"/api/tasks/{task.pk}/complete", {"completed": True}
                )
            finally:
                connection.close()

        with psycopg.connect(the_test_database_url()) as other:  # holds the task: the first request waits
            other.execute('SELECT 1 FROM "task" WHERE "id" = %s FOR UPDATE', [task.pk])
            thread = threading.Thread(target=first_request)
            thread.start()
            wait_until_blocked_on_a_lock('SELECT "task"')
            running = send(second_client, "patch", f"/api/tasks/{task.pk}/complete", {"completed": True})
            other.commit()
        thread.join()
        replayed = send(second_client, "patch", f"/api/tasks/{task.pk}/complete", {"completed": True})

        assert running.status_code == 409
        assert running.json()["error"]["code"] == "idempotency_key_in_use"
        assert running["Retry-After"] == "1"
        assert answers["first"].status_code == 200
        assert_replayed(answers["first"], replayed)

    def test_concurrent_creates_with_one_key_make_one_task(self, client_for, user):
        clients = [client_for(user) for _ in range(6)]
        answers = run_concurrently(6, lambda: send(clients.pop(), "post", "/api/tasks", {"title": "Once"}))

        assert Task.objects.filter(user=user).count() == 1
        created = [a for a in answers if a.status_code == 201]
        assert {a.status_code for a in answers} <= {201, 409}
        assert len({a.content for a in created}) == 1  # the first answer, and replays of it
        assert sum("Idempotent-Replayed" not in a for a in created) == 1
