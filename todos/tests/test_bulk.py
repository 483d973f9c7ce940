"""POST /api/tasks/bulk: one action on up to 100 of the user's tasks, all or nothing."""

from datetime import UTC, datetime

import pytest

from tests.net import run_concurrently
from todos.models import Task

BULK = "/api/tasks/bulk"
DUE = datetime(2026, 12, 1, 9, tzinfo=UTC)


def bulk(client, body: dict, status: int = 200) -> dict:
    response = client.post(BULK, body)
    assert response.status_code == status, response.content
    return response.json()


def states(user) -> list[tuple[str, bool]]:
    return [(task.title, task.completed) for task in Task.objects.filter(user=user).order_by("id")]


class TestActions:
    def test_complete_and_reopen(self, alice_client, user, make_task):
        ids = [make_task(user, "A").pk, make_task(user, "B", completed=True).pk, make_task(user, "C").pk]

        done = bulk(alice_client, {"action": "complete", "ids": ids})

        assert [task["completed"] for task in done["data"]] == [True, True, True]
        assert [task["id"] for task in done["data"]] == ids
        assert done["meta"] == {"next_occurrences": []}
        bulk(alice_client, {"action": "reopen", "ids": ids[:2]})
        assert states(user) == [("A", False), ("B", False), ("C", True)]
        assert Task.objects.get(title="A").completed_at is None

    def test_the_answer_shows_each_task_as_get_does(self, alice_client, user, make_task):
        task = make_task(user)
        [shown] = bulk(alice_client, {"action": "complete", "ids": [task.pk]})["data"]
        assert shown == alice_client.get(f"/api/tasks/{task.pk}").json()["data"]

    def test_delete(self, alice_client, user, make_task):
        ids = [make_task(user, "A").pk, make_task(user, "B").pk]
        make_task(user, "Kept")

        assert bulk(alice_client, {"action": "delete", "ids": ids}) == {
            "data": [],
            "meta": {"next_occurrences": []},
        }
        assert states(user) == [("Kept", False)]

    def test_update_sets_the_fields_on_every_task(self, alice_client, user, make_task, make_category):
        work = make_category(user)
        ids = [make_task(user, "A").pk, make_task(user, "B", tags=["old"]).pk]

        body = {
            "action": "update",
            "ids": ids,
            "fields": {"priority": "high", "category_id": work.pk, "tags": ["x"]},
        }
        data = bulk(alice_client, body)["data"]

        assert [(t["priority"], t["category_id"], t["tags"]) for t in data] == [("high", work.pk, ["x"])] * 2
        assert [(t["title"]) for t in data] == ["A", "B"]

    def test_recurring_tasks_completed_in_bulk_recur_once(self, alice_client, user, make_task, make_category):
        work = make_category(user)
        daily = make_task(user, "Daily", recurrence="daily", due_date=DUE, category=work)
        weekly = make_task(user, "Weekly", recurrence="weekly", due_date=DUE)
        plain = make_task(user, "Plain")
        ids = [daily.pk, weekly.pk, plain.pk]

        first = bulk(alice_client, {"action": "complete", "ids": ids})
        bulk(alice_client, {"action": "reopen", "ids": ids})
        bulk(alice_client, {"action": "complete", "ids": ids})  # done again: no second occurrence
        bulk(alice_client, {"action": "update", "ids": ids, "fields": {"completed": True}})

        created = first["meta"]["next_occurrences"]
        assert [(t["title"], t["due_date"], t["category_id"]) for t in created] == [
            ("Daily", "2026-12-02T09:00:00Z", work.pk),
            ("Weekly", "2026-12-08T09:00:00Z", None),
        ]
        assert Task.objects.filter(user=user).count() == 5

    def test_a_completion_by_update_creates_the_next_occurrence(self, alice_client, user, make_task):
        task = make_task(user, "Daily", recurrence="daily", due_date=DUE)
        body = {"action": "update", "ids": [task.pk], "fields": {"completed": True, "title": "Done"}}
        answer = bulk(alice_client, body)
        assert sorted(states(user)) == [("Done", False), ("Done", True)]
        [created] = answer["meta"]["next_occurrences"]
        assert (created["title"], created["due_date"]) == ("Done", "2026-12-02T09:00:00Z")

    def test_it_is_in_the_change_feed(self, alice_client, user, make_task):
        ids = [make_task(user, "A").pk, make_task(user, "B").pk]
        cursor = alice_client.get("/api/changes").json()["meta"]["cursor"]
        bulk(alice_client, {"action": "delete", "ids": ids})
        changes = alice_client.get("/api/changes", {"cursor": cursor}).json()["data"]
        assert changes == [{"type": "task", "id": task_id, "deleted": True} for task_id in ids]


class TestAllOrNothing:
    @pytest.mark.parametrize("action", ["complete", "reopen", "delete", "update"])
    def test_another_users_id_is_a_404_and_nothing_changes(
        self, alice_client, user, other_user, make_task, action
    ):
        mine = make_task(user, "Mine").pk
        bobs = make_task(other_user, "Bob's").pk
        body = {"action": action, "ids": [mine, bobs, 999_999]}
        if action == "update":
            body["fields"] = {"title": "Taken"}

        error = bulk(alice_client, body, status=404)["error"]

        assert error["code"] == "not_found"
        assert error["details"] == {"missing_ids": [bobs, 999_999]}  # the same for both: nothing told
        assert "Bob" not in error["message"]
        assert states(user) == [("Mine", False)]
        assert states(other_user) == [("Bob's", False)]

    def test_a_failure_midway_undoes_the_tasks_already_changed(
        self, alice_client, user, make_task, monkeypatch
    ):
        from todos import services

        ids = [make_task(user, "A").pk, make_task(user, "B").pk]
        set_completed = services._set_completed

        def fail_on_the_second(task, completed):
            if task.pk == ids[1]:
                raise RuntimeError("a failure in the middle")
            return set_completed(task, completed)

        monkeypatch.setattr(services, "_set_completed", fail_on_the_second)
        assert alice_client.post(BULK, {"action": "complete", "ids": ids}).status_code == 500
        assert states(user) == [("A", False), ("B", False)]


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"ids": [1]}, "action"),
            ({"action": "archive", "ids": [1]}, "action"),
            ({"action": "complete"}, "ids"),
            ({"action": "complete", "ids": []}, "ids"),
            ({"action": "complete", "ids": list(range(1, 102))}, "ids"),
            ({"action": "complete", "ids": [1, 1]}, "ids"),
            ({"action": "complete", "ids": ["1"]}, "ids"),
            ({"action": "complete", "ids": [0]}, "ids"),
            ({"action": "complete", "ids": 1}, "ids"),
            ({"action": "update", "ids": [1]}, "fields"),
            ({"action": "update", "ids": [1], "fields": {}}, "fields"),
            ({"action": "update", "ids": [1], "fields": {"title": ""}}, "fields"),
            ({"action": "update", "ids": [1], "fields": {"user_id": "x"}}, "fields"),
            ({"action": "update", "ids": [1], "fields": {"category_id": 999}}, "fields"),
            ({"action": "update", "ids": [1], "fields": []}, "fields"),
            ({"action": "delete", "ids": [1], "fields": {"title": "x"}}, "fields"),
            ({"action": "delete", "ids": [1], "extra": 1}, "extra"),
        ],
    )
    def test_bad_bodies_are_a_400_naming_the_field(self, alice_client, user, body, field):
        error = bulk(alice_client, body, status=400)["error"]
        assert error["code"] == "validation_error"
        assert field in error["details"]

    def test_100_ids_are_allowed(self, alice_client, user):
        ids = [
            task.pk for task in Task.objects.bulk_create(Task(user=user, title=f"T{n}") for n in range(100))
        ]
        assert len(bulk(alice_client, {"action": "complete", "ids": ids})["data"]) == 100

    def test_signed_out_is_a_401(self, api_client, db):
        assert api_client.post(BULK, {"action": "delete", "ids": [1]}).status_code == 401

    def test_a_get_is_a_405(self, alice_client):
        assert alice_client.get(BULK).status_code == 405


@pytest.mark.postgres("concurrent requests are proven on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_completions_create_each_next_occurrence_once(client_for, user, make_task):
    tasks = [make_task(user, f"Daily {n}", recurrence="daily", due_date=DUE) for n in range(5)]
    ids = [task.pk for task in tasks]
    # Each in its own order: the locks are taken in id order all the same.
    requests = [(client_for(user), ids[number:] + ids[:number]) for number in range(4)]

    def complete() -> int:
        client, order = requests.pop()
        return client.post(BULK, {"action": "complete", "ids": order}).status_code

    statuses = run_concurrently(4, complete)

    assert statuses == [200] * 4
    assert Task.objects.filter(user=user, completed=False).count() == 5
    assert Task.objects.filter(user=user).count() == 10
