"""PATCH /api/tasks/{id}/complete and recurring tasks."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from todos.models import Task
from todos.services import next_due_date


def complete(client, task, body=None):
    return client.patch(f"/api/tasks/{task.pk}/complete", body)


def test_no_body_toggles(alice_client, make_task, user):
    task = make_task(user)

    first = complete(alice_client, task).json()["data"]
    second = complete(alice_client, task).json()["data"]

    assert (first["completed"], second["completed"]) == (True, False)
    assert first["completed_at"] is not None and second["completed_at"] is None


def test_body_sets_and_is_idempotent(alice_client, make_task, user):
    task = make_task(user)

    first = complete(alice_client, task, {"completed": True}).json()["data"]
    again = complete(alice_client, task, {"completed": True}).json()["data"]

    assert first["completed"] is again["completed"] is True
    assert again["completed_at"] == first["completed_at"]


def test_invalid_body_is_400(alice_client, make_task, user):
    task = make_task(user)

    response = complete(alice_client, task, {"completed": "perhaps"})

    assert response.status_code == 400
    assert "completed" in response.json()["error"]["details"]
    task.refresh_from_db()
    assert task.completed is False


@pytest.mark.parametrize(
    ("recurrence", "due", "next_due"),
    [
        ("daily", datetime(2026, 12, 31, 9, 0, tzinfo=UTC), "2027-01-01T09:00:00Z"),
        ("weekly", datetime(2026, 12, 28, 9, 0, tzinfo=UTC), "2027-01-04T09:00:00Z"),
        ("monthly", datetime(2026, 12, 15, 9, 0, tzinfo=UTC), "2027-01-15T09:00:00Z"),
        ("monthly", datetime(2027, 1, 31, 9, 0, tzinfo=UTC), "2027-02-28T09:00:00Z"),
        ("monthly", datetime(2028, 1, 31, 9, 0, tzinfo=UTC), "2028-02-29T09:00:00Z"),
        ("monthly", datetime(2026, 3, 31, 9, 0, tzinfo=UTC), "2026-04-30T09:00:00Z"),
    ],
)
def test_completing_a_recurring_task_creates_the_next_occurrence(
    alice_client, make_task, make_category, user, recurrence, due, next_due
):
    category = make_category(user)
    task = make_task(
        user,
        "Water plants",
        recurrence=recurrence,
        due_date=due,
        priority="high",
        tags=["home"],
        category=category,
    )

    response = complete(alice_client, task)

    nxt = response.json()["meta"]["next_occurrence"]
    assert nxt["due_date"] == next_due
    assert nxt["completed"] is False and nxt["completed_at"] is None
    assert (nxt["title"], nxt["priority"], nxt["tags"], nxt["recurrence"], nxt["category_id"]) == (
        "Water plants",
        "high",
        ["home"],
        recurrence,
        category.pk,
    )
    assert Task.objects.filter(user=user).count() == 2


def test_month_ends_follow_the_configured_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    # Jan 31, 20:00 in New York is Feb 1 in UTC: the rule applies to the local date.
    due = datetime(2027, 2, 1, 1, 0, tzinfo=UTC)

    with timezone.override("America/New_York"):
        moved = next_due_date(due, "monthly")

    assert moved == datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # Feb 28, 20:00 New York (EST)


def test_daily_keeps_the_wall_clock_across_daylight_saving(settings):
    settings.TIME_ZONE = "Europe/Paris"
    due = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 in Paris, the day before the switch

    with timezone.override("Europe/Paris"):
        moved = next_due_date(due, "daily")

    assert moved == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 in Paris, summer time


def test_without_a_due_date_the_next_one_counts_from_completion(alice_client, make_task, user):
    task = make_task(user, recurrence="daily")

    nxt = complete(alice_client, task).json()["meta"]["next_occurrence"]

    completed_at = Task.objects.get(pk=task.pk).completed_at
    assert datetime.fromisoformat(nxt["due_date"]) == next_due_date(completed_at, "daily")


def test_a_repeated_request_creates_no_second_occurrence(alice_client, make_task, user):
    task = make_task(user, recurrence="weekly", due_date=datetime(2026, 12, 1, tzinfo=UTC))

    first = complete(alice_client, task, {"completed": True})
    repeat = complete(alice_client, task, {"completed": True})

    assert first.json()["meta"]["next_occurrence"] is not None
    assert repeat.json()["meta"]["next_occurrence"] is None
    assert Task.objects.filter(user=user).count() == 2


def test_reopening_and_completing_again_creates_no_second_occurrence(alice_client, make_task, user):
    task = make_task(user, recurrence="daily", due_date=datetime(2026, 12, 1, tzinfo=UTC))

    complete(alice_client, task)  # done: next occurrence created
    complete(alice_client, task)  # reopened
    complete(alice_client, task)  # done again

    assert Task.objects.filter(user=user).count() == 2


def test_completing_by_patch_also_creates_the_next_occurrence(alice_client, make_task, user):
    task = make_task(user, recurrence="daily", due_date=datetime(2026, 12, 1, tzinfo=UTC))

    alice_client.patch(f"/api/tasks/{task.pk}", {"completed": True})
    alice_client.patch(f"/api/tasks/{task.pk}", {"completed": True})

    assert list(Task.objects.filter(user=user).order_by("id").values_list("completed", "due_date")) == [
        (True, datetime(2026, 12, 1, tzinfo=UTC)),
        (False, datetime(2026, 12, 2, tzinfo=UTC)),
    ]


def test_non_recurring_task_has_no_next_occurrence(alice_client, make_task, user):
    task = make_task(user)

    assert complete(alice_client, task).json()["meta"] == {"next_occurrence": None}
    assert Task.objects.count() == 1


class TestSeries:
    """A recurring series is linked task to task (`previous_occurrence_id`), not found again by title
    and due date."""

    def test_two_series_with_the_same_title_and_due_date_each_go_on(
        self, alice_client, make_task, make_category, user
    ):
        due = datetime(2026, 12, 1, 9, tzinfo=UTC)
        home = make_task(user, "Water", description="The balcony", category=make_category(user, "Home"),
                         recurrence="daily", due_date=due)  # fmt: skip
        office = make_task(user, "Water", description="The ficus", category=make_category(user, "Office"),
                           recurrence="daily", due_date=due)  # fmt: skip

        after_home = complete(alice_client, home).json()["meta"]["next_occurrence"]
        after_office = complete(alice_client, office).json()["meta"]["next_occurrence"]

        assert (after_home["description"], after_home["previous_occurrence_id"]) == ("The balcony", home.pk)
        assert (after_office["description"], after_office["previous_occurrence_id"]) == (
            "The ficus",
            office.pk,
        )
        assert after_home["due_date"] == after_office["due_date"] == "2026-12-02T09:00:00Z"
        assert Task.objects.filter(user=user).count() == 4

    def test_a_task_renamed_after_its_next_occurrence_was_made_gets_no_second_one(
        self, alice_client, make_task, user
    ):
        task = make_task(user, "Run", recurrence="weekly", due_date=datetime(2026, 12, 1, tzinfo=UTC))
        complete(alice_client, task)
        complete(alice_client, task)  # reopened
        alice_client.patch(f"/api/tasks/{task.pk}", {"title": "Run 5 km", "due_date": "2026-12-03"})

        again = complete(alice_client, task).json()["meta"]["next_occurrence"]

        assert again is None
        assert Task.objects.filter(user=user).count() == 2

    def test_deleting_a_task_unlinks_its_next_occurrence(self, alice_client, make_task, user):
        task = make_task(user, recurrence="daily", due_date=datetime(2026, 12, 1, tzinfo=UTC))
        following = complete(alice_client, task).json()["meta"]["next_occurrence"]

        assert alice_client.delete(f"/api/tasks/{task.pk}").status_code == 204

        shown = alice_client.get(f"/api/tasks/{following['id']}").json()["data"]
        assert shown["previous_occurrence_id"] is None


def test_a_task_is_read_once_locked(alice_client, make_task, user):
    """The task is read locked at once, not read first to learn which category to lock: a plain
    task needs none (todos.services.task_set_completed_by_id)."""
    task = make_task(user)
    alice_client.get("/api/me")  # the credential remembered: only the toggle's own statements count

    with CaptureQueriesContext(connection) as queries:
        assert complete(alice_client, task).status_code == 200

    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "task"')]
    assert len(reads) == 1, reads
    if connection.vendor == "postgresql":
        assert reads[0].endswith("FOR UPDATE"), reads


@pytest.mark.postgres("SQLite takes no row locks")
def test_a_recurring_task_in_a_category_is_completed_in_the_lock_order(
    alice_client, make_task, make_category, user
):
    """Its category is locked before it: the first read is given up and the write starts again."""
    task = make_task(user, category=make_category(user), recurrence="daily")

    with CaptureQueriesContext(connection) as queries:
        response = complete(alice_client, task)

    assert response.status_code == 200, response.content
    assert response.json()["meta"]["next_occurrence"]["category_id"] == task.category_id
    statements = [q["sql"] for q in queries.captured_queries]
    category_lock = next(i for i, sql in enumerate(statements) if 'FROM "category"' in sql)
    assert any(sql.startswith('SELECT "task"') for sql in statements[category_lock:]), statements


@pytest.mark.parametrize("task_id", ["other", str(2**63), "99999999", "0", "9" * 5000])
def test_a_task_that_is_not_yours_is_404(alice_client, make_task, other_user, task_id):
    bobs = make_task(other_user)
    path_id = str(bobs.pk) if task_id == "other" else task_id

    response = alice_client.patch(f"/api/tasks/{path_id}/complete")

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    bobs.refresh_from_db()
    assert bobs.completed is False
