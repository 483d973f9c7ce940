"""What the database itself guarantees, whoever writes to it (PostgreSQL)."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from tests.net import run_concurrently, wait_until_blocked_on_a_lock
from todos import services
from todos.models import Category, Task

pytestmark = [
    pytest.mark.postgres("database rules are proven on PostgreSQL"),
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


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/api/tasks/{id}/complete", None, {}),
        ("/api/tasks/{id}", {"completed": True, "title": "Stretch"}, {}),
        # With If-Match the precondition is checked against the task once the service has locked it.
        ("/api/tasks/{id}/complete", None, {"HTTP_IF_MATCH": "*"}),
        ("/api/tasks/{id}", {"completed": True, "title": "Stretch"}, {"HTTP_IF_MATCH": "*"}),
    ],
    ids=["complete", "patch", "complete-if-match", "patch-if-match"],
)
def test_deleting_a_category_while_its_recurring_task_is_completed_does_not_deadlock(
    client_for, user, make_category, make_task, monkeypatch, path, body, headers
):
    """Completing locks the task, then inserts the next occurrence, which needs the category;
    deleting the category locks it, then its tasks. Completion pauses in between here, while the
    deletion waits: each would wait for the other unless both lock the category first."""
    work = make_category(user)
    task = make_task(user, category=work, recurrence="daily", due_date=datetime(2026, 12, 1, tzinfo=UTC))
    completing, go_on = threading.Event(), threading.Event()
    create_next_occurrence = services._create_next_occurrence

    def paused(locked: Task) -> Task | None:
        completing.set()
        go_on.wait(10)
        return create_next_occurrence(locked)

    monkeypatch.setattr(services, "_create_next_occurrence", paused)
    completer, deleter = client_for(user), client_for(user)
    statuses: dict[str, int] = {}

    def request(name: str, send) -> None:
        try:
            statuses[name] = send().status_code
        finally:
            connection.close()

    complete = threading.Thread(
        target=request, args=("complete", lambda: completer.patch(path.format(id=task.pk), body, **headers))
    )
    delete = threading.Thread(
        target=request, args=("delete", lambda: deleter.delete(f"/api/categories/{work.pk}"))
    )
    complete.start()
    assert completing.wait(10)
    delete.start()
    wait_until_blocked_on_a_lock('SELECT "category"')  # the deletion locking the category
    go_on.set()
    complete.join()
    delete.join()

    assert statuses == {"complete": 200, "delete": 204}
    assert not Category.objects.filter(pk=work.pk).exists()
    assert [(t.completed, t.category_id) for t in Task.objects.order_by("id")] == [
        (True, None),
        (False, None),
    ]
