"""A task's reminder (`remind_at`) over HTTP: a date alone is 09:00 that day in TIME_ZONE, PUT
without it clears it, bulk updates set it, and a recurring task's next occurrence has it moved on
by the same rule as its due date."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from todos.models import Task

TASKS = "/api/tasks"


def complete(client, task):
    response = client.patch(f"{TASKS}/{task.pk}/complete")
    assert response.status_code == 200, response.content
    return response.json()


class TestWrite:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("2026-12-01", "2026-12-01T08:00:00Z"),  # a date alone: 09:00 in Paris
            ("2026-12-01T18:30", "2026-12-01T17:30:00Z"),  # without an offset: in Paris
            ("2026-12-01T18:30:00Z", "2026-12-01T18:30:00Z"),
            ("2026-12-01T18:30:00-05:00", "2026-12-01T23:30:00Z"),
        ],
    )
    def test_a_date_alone_means_9_oclock_in_the_time_zone(self, alice_client, settings, given, stored):
        settings.TIME_ZONE = "Europe/Paris"

        created = alice_client.post(TASKS, {"title": "Call mum", "remind_at": given})

        assert created.status_code == 201, created.content
        shown = alice_client.get(f"{TASKS}/{created.json()['data']['id']}").json()["data"]
        assert datetime.fromisoformat(shown["remind_at"]) == datetime.fromisoformat(stored)
        assert Task.objects.get().remind_at == datetime.fromisoformat(stored)

    def test_none_by_default_and_listed(self, alice_client):
        alice_client.post(TASKS, {"title": "Plain"})
        alice_client.post(TASKS, {"title": "Reminded", "remind_at": "2026-12-01T09:00:00Z"})

        listed = alice_client.get(f"{TASKS}?ordering=title").json()["data"]

        assert [(task["title"], task["remind_at"]) for task in listed] == [
            ("Plain", None),
            ("Reminded", "2026-12-01T09:00:00Z"),
        ]

    @pytest.mark.parametrize(
        "value", ["tomorrow", "2026-13-01", "2026-12-01 09:00", 20261201, ["2026-12-01"]]
    )
    def test_what_is_not_a_date_is_a_400(self, alice_client, value):
        response = alice_client.post(TASKS, {"title": "x", "remind_at": value}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["details"]) == ["remind_at"]
        assert not Task.objects.exists()

    @pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01T00:00:00Z"])
    def test_it_takes_the_range_of_a_due_date(self, alice_client, value):
        response = alice_client.post(TASKS, {"title": "x", "remind_at": value})

        assert response.status_code == 400
        assert response.json()["error"]["details"] == {
            "remind_at": ["Must be from 0001-01-02 to 9999-12-30 (UTC)."]
        }

    def test_patch_sets_and_clears_it(self, alice_client, make_task, user):
        task = make_task(user, "Call mum")

        set_ = alice_client.patch(f"{TASKS}/{task.pk}", {"remind_at": "2026-12-01T18:00:00Z"}, format="json")
        cleared = alice_client.patch(f"{TASKS}/{task.pk}", {"remind_at": None}, format="json")

        assert set_.json()["data"]["remind_at"] == "2026-12-01T18:00:00Z"
        assert cleared.json()["data"]["remind_at"] is None
        assert Task.objects.get().remind_at is None

    def test_put_without_it_clears_it(self, alice_client, make_task, user):
        task = make_task(user, "Call mum", remind_at=datetime(2026, 12, 1, 9, tzinfo=UTC))

        data = alice_client.put(f"{TASKS}/{task.pk}", {"title": "Call mum"}).json()["data"]

        assert data["remind_at"] is None
        assert Task.objects.get().remind_at is None

    def test_a_bulk_update_sets_it_on_every_task(self, alice_client, make_task, user):
        ids = [make_task(user, "One").pk, make_task(user, "Two").pk]

        response = alice_client.post(
            f"{TASKS}/bulk",
            {"action": "update", "ids": ids, "fields": {"remind_at": "2026-12-01T09:00:00Z"}},
            format="json",
        )

        assert response.status_code == 200, response.content
        assert [task["remind_at"] for task in response.json()["data"]] == ["2026-12-01T09:00:00Z"] * 2
        assert set(Task.objects.values_list("remind_at", flat=True)) == {datetime(2026, 12, 1, 9, tzinfo=UTC)}

    def test_the_openapi_schema_describes_it(self, alice_client):
        components = alice_client.get("/api/schema?format=json").json()["components"]["schemas"]

        for name in ("Task", "PatchedTask"):
            remind_at = components[name]["properties"]["remind_at"]
            assert remind_at["nullable"] is True
            assert "09:00" in remind_at["description"] and "task.reminder" in remind_at["description"]
        assert "remind_at" not in components["Task"].get("required", [])


class TestRecurrence:
    @pytest.mark.parametrize(
        ("recurrence", "remind_at", "next_remind_at"),
        [
            ("daily", datetime(2026, 12, 31, 9, tzinfo=UTC), "2027-01-01T09:00:00Z"),
            ("weekly", datetime(2026, 12, 28, 9, tzinfo=UTC), "2027-01-04T09:00:00Z"),
            ("monthly", datetime(2027, 1, 31, 9, tzinfo=UTC), "2027-02-28T09:00:00Z"),
            ("monthly", datetime(2028, 1, 31, 9, tzinfo=UTC), "2028-02-29T09:00:00Z"),
        ],
    )
    def test_the_next_occurrence_is_reminded_one_step_later(
        self, alice_client, make_task, user, recurrence, remind_at, next_remind_at
    ):
        task = make_task(
            user,
            "Pay rent",
            recurrence=recurrence,
            due_date=datetime(2027, 1, 31, 23, 59, tzinfo=UTC),
            remind_at=remind_at,
        )

        following = complete(alice_client, task)["meta"]["next_occurrence"]

        assert following["remind_at"] == next_remind_at
        shown = alice_client.get(f"{TASKS}/{following['id']}").json()["data"]
        assert shown["remind_at"] == next_remind_at
        # The completed task keeps its own: the worker skips completed tasks.
        kept = alice_client.get(f"{TASKS}/{task.pk}").json()["data"]["remind_at"]
        assert datetime.fromisoformat(kept) == remind_at

    def test_the_wall_clock_is_kept_across_daylight_saving(self, alice_client, make_task, user, settings):
        settings.TIME_ZONE = "Europe/Paris"
        remind_at = datetime(2026, 3, 28, 8, tzinfo=UTC)  # 09:00 in Paris, the day before the switch
        task = make_task(user, "Stretch", recurrence="daily", remind_at=remind_at)

        following = complete(alice_client, task)["meta"]["next_occurrence"]

        assert datetime.fromisoformat(following["remind_at"]) == datetime(2026, 3, 29, 7, tzinfo=UTC)

    def test_a_task_without_a_reminder_recurs_without_one(self, alice_client, make_task, user):
        task = make_task(user, "Stretch", recurrence="daily", due_date=datetime(2026, 12, 1, 9, tzinfo=UTC))

        assert complete(alice_client, task)["meta"]["next_occurrence"]["remind_at"] is None

    def test_a_reminder_that_cannot_move_on_is_not_carried_over(self, alice_client, make_task, user):
        task = make_task(
            user,
            "Stretch",
            recurrence="daily",
            due_date=datetime(2026, 12, 1, 9, tzinfo=UTC),
            remind_at=datetime(9999, 12, 30, 9, tzinfo=UTC),
        )

        following = complete(alice_client, task)["meta"]["next_occurrence"]

        assert (following["due_date"], following["remind_at"]) == ("2026-12-02T09:00:00Z", None)

    def test_a_bulk_completion_moves_it_on_too(self, alice_client, make_task, user):
        task = make_task(user, "Stretch", recurrence="weekly", remind_at=datetime(2026, 12, 1, 9, tzinfo=UTC))

        response = alice_client.post(f"{TASKS}/bulk", {"action": "complete", "ids": [task.pk]}, format="json")

        assert response.status_code == 200, response.content
        [following] = Task.objects.filter(previous_occurrence=task)
        assert following.remind_at == datetime(2026, 12, 8, 9, tzinfo=UTC)

    def test_moving_it_on_costs_no_query(self, alice_client, make_task, user):
        due = datetime(2026, 12, 1, 9, tzinfo=UTC)
        plain = make_task(user, "Plain", recurrence="daily", due_date=due)
        reminded = make_task(user, "Reminded", recurrence="daily", due_date=due, remind_at=due)
        alice_client.get("/api/me")  # the credential remembered: only the completions' statements count

        counts = []
        for task in (plain, reminded):
            with CaptureQueriesContext(connection) as queries:
                complete(alice_client, task)
            counts.append(len(queries.captured_queries))

        assert counts[0] == counts[1], counts
