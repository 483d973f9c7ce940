"""Each user's number of tasks (TaskCount), kept by triggers on `task` whoever writes it, and what
the task quota reads instead of counting the tasks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from todos.models import Task, TaskCount


def counts() -> dict[str, int]:
    return dict(TaskCount.objects.values_list("user_id", "tasks"))


def tasks_per_user() -> dict[str, int]:
    per_user: dict[str, int] = {}
    for user_id in Task.objects.values_list("user_id", flat=True):
        per_user[user_id] = per_user.get(user_id, 0) + 1
    return per_user


def test_every_kind_of_write_keeps_the_counts(alice_client, operator_client, user, other_user, make_task):
    for title in ("A", "B", "C"):
        assert alice_client.post("/api/tasks", {"title": title}).status_code == 201
    recurring = make_task(user, "Water", recurrence="daily")
    assert alice_client.patch(f"/api/tasks/{recurring.pk}/complete").status_code == 200  # a next one
    doomed = [make_task(user, f"Doomed {n}").pk for n in range(3)]
    assert alice_client.delete(f"/api/tasks/{doomed[0]}").status_code == 204
    bulk = alice_client.post(
        "/api/tasks/bulk", {"action": "delete", "ids": doomed[1:]}, content_type="application/json"
    )
    assert bulk.status_code == 200, bulk.content
    by_admin = make_task(other_user, "Bob's")
    make_task(other_user, "Bob's other")
    admin_delete = operator_client.post(f"/admin/todos/task/{by_admin.pk}/delete/", {"post": "yes"})
    assert admin_delete.status_code == 302
    with connection.cursor() as cursor:  # plain SQL counts too
        cursor.execute(
            'INSERT INTO "task" ("userId", "title", "description", "completed", "priority", "tags", '
            '"recurrence", "createdAt", "updatedAt") '
            "VALUES (%s, 'Raw', '', false, 'low', '[]', 'none', %s, %s)",
            [other_user.pk, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"],
        )

    assert counts() == tasks_per_user() == {user.pk: 5, other_user.pk: 2}


def test_a_task_moved_to_another_user_moves_its_count(user, other_user, make_task):
    task = make_task(user)
    Task.objects.filter(pk=task.pk).update(user=other_user)

    assert counts() == {user.pk: 0, other_user.pk: 1}


def test_a_deleted_user_takes_their_count_along(user, other_user, make_task):
    make_task(user)
    make_task(other_user)
    user.delete()

    assert counts() == {other_user.pk: 1}


def test_a_create_reads_the_count_and_counts_no_tasks(alice_client, user, make_task):
    for n in range(30):
        make_task(user, f"Task {n}")

    with CaptureQueriesContext(connection) as queries:
        assert alice_client.post("/api/tasks", {"title": "One more"}).status_code == 201

    statements = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in statements if "COUNT(" in sql.upper()], statements
    assert any('FROM "task_count"' in sql for sql in statements), statements


@pytest.mark.postgres("TRUNCATE fires a statement trigger on PostgreSQL; SQLite has no TRUNCATE")
def test_truncating_the_tasks_forgets_the_counts(user, make_task):
    make_task(user)
    with connection.cursor() as cursor:
        cursor.execute('TRUNCATE "task" CASCADE')

    assert counts() == {}
