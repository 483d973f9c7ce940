"""What the database itself guarantees, whoever writes to it (PostgreSQL)."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from todos.models import Category, Task

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database rules are proven on PostgreSQL"),
]


@pytest.mark.parametrize(
    "fields",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "x", "description": "d" * 5001},
        {"title": "x", "priority": "urgent"},
        {"title": "x", "recurrence": "yearly"},
    ],
)
def test_task_checks(user, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(user=user, **fields)


@pytest.mark.parametrize("name", ["", "  ", "x" * 51])
def test_category_name_checks(user, name):
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.create(user=user, name=name)


def test_category_names_are_unique_per_user_ignoring_case(user, other_user):
    Category.objects.create(user=user, name="Work")
    Category.objects.create(user=other_user, name="work")

    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.create(user=user, name="WORK")


def test_plain_sql_deletes_cascade_and_set_null(user, make_category, make_task):
    work = make_category(user)
    task = make_task(user, category=work)
    with connection.cursor() as cursor:
        cursor.execute('DELETE FROM "category" WHERE id = %s', [work.pk])
    task.refresh_from_db()
    assert task.category_id is None

    with connection.cursor() as cursor:  # better-auth deleting a user
        cursor.execute('DELETE FROM "user" WHERE id = %s', [user.pk])
    assert not Task.objects.exists()


def run_concurrently(count: int, action) -> list:
    """Run `action` in `count` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(count)
    results: list = []

    def worker():
        try:
            barrier.wait()
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_completions_create_one_next_occurrence(client_for, user, make_task):
    task = make_task(user, recurrence="daily", due_date=datetime(2026, 12, 1, tzinfo=UTC))
    clients = [client_for(user) for _ in range(6)]

    statuses = run_concurrently(
        6, lambda: clients.pop().patch(f"/api/tasks/{task.pk}/complete", {"completed": True}).status_code
    )

    assert statuses == [200] * 6
    assert Task.objects.filter(user=user).count() == 2
    assert Task.objects.filter(user=user, completed=False).get().due_date == datetime(2026, 12, 2, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_categories_leave_one(client_for, user):
    clients = [client_for(user) for _ in range(6)]

    statuses = run_concurrently(
        6, lambda: clients.pop().post("/api/categories", {"name": "Work"}).status_code
    )

    assert sorted(statuses).count(201) == 1
    assert set(statuses) <= {201, 400, 409}
    assert Category.objects.filter(user=user).count() == 1
