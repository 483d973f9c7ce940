"""Writes take their locks in one order (todos.services.lock_for_write), so none waits for another
in a circle; one that still deadlocks runs again instead of answering 503 (PostgreSQL)."""

import logging
import threading

import psycopg
import pytest
from django.db import connection

from tests.net import run_together, the_test_database_url, wait_until_blocked_on_a_lock
from todos.models import Category, Task

pytestmark = [
    pytest.mark.postgres("row locks are proven on PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.parametrize(
    "fields",
    [{"category_id": "work", "priority": "high"}, {"priority": "high"}],
    ids=["filing the tasks there", "the tasks only"],
)
def test_updating_tasks_in_bulk_and_deleting_their_category_never_deadlock(
    client_for, user, make_category, make_task, caplog, fields
):
    """The attacker's trial: a bulk update that files tasks into a category, and the deletion of
    that category, at the same moment, deadlocked in 1 to 2 rounds in 30 (a 503 after a second).
    A deletion locks the category's tasks in no order: a bulk update holds the category first."""
    filer, deleter = client_for(user), client_for(user)
    answers = []
    with caplog.at_level(logging.INFO, logger="ironclad.transactions"):
        for round_ in range(30):
            work, other = make_category(user, f"Work {round_}"), make_category(user, f"Other {round_}")
            ids = [make_task(user, f"T{round_}.{n}", category=work if n % 2 else other).pk for n in range(20)]
            body = {"action": "update", "ids": ids, "fields": {**fields}}
            if "category_id" in fields:
                body["fields"]["category_id"] = work.pk

            answers += run_together(
                lambda body=body: filer.post("/api/tasks/bulk", body).status_code,
                lambda work=work: deleter.delete(f"/api/categories/{work.pk}").status_code,
            )
            Task.objects.filter(user=user).delete()

    assert all(status < 500 for status in answers), answers
    assert answers.count(204) == 30  # every deletion went through
    assert not Category.objects.filter(name__startswith="Work").exists()
    assert "rolled back" not in caplog.text  # no deadlock at all, not one retried


def test_deleting_tasks_of_a_series_at_the_same_moment_never_deadlocks(client_for, user, make_task, caplog):
    """Deleting a task unlinks its next occurrence (ON DELETE SET NULL), which is locked with it."""
    alice, other = client_for(user), client_for(user)
    answers = []
    with caplog.at_level(logging.INFO, logger="ironclad.transactions"):
        for _ in range(15):
            first = make_task(user, "Daily", recurrence="daily")
            second = make_task(user, "Daily", recurrence="daily", previous_occurrence=first)
            third = make_task(user, "Daily", recurrence="daily", previous_occurrence=second)
            bulk = {"action": "delete", "ids": [first.pk, third.pk]}
            answers += run_together(
                lambda second=second: alice.delete(f"/api/tasks/{second.pk}").status_code,
                lambda bulk=bulk: other.post("/api/tasks/bulk", bulk).status_code,
            )
            Task.objects.filter(user=user).delete()

    assert all(status < 500 for status in answers), answers
    assert "rolled back" not in caplog.text


def test_a_deadlock_that_still_happens_runs_the_write_again(
    client_for, user, make_category, make_task, caplog
):
    """Another program locks a task, then its category: the reverse of Ironclad's order. A
    completion (an update of `completed`) waiting for that task holds the category already;
    PostgreSQL breaks the cycle by rolling the completion back, and the completion runs again once
    the other program commits."""
    work = make_category(user)
    task = make_task(user, category=work, recurrence="daily")
    outcome = {}

    def complete() -> None:
        try:
            outcome["status"] = (
                client_for(user).patch(f"/api/tasks/{task.pk}", {"completed": True}).status_code
            )
        finally:
            connection.close()

    with psycopg.connect(the_test_database_url()) as other:
        other.execute("SELECT 1 FROM task WHERE id = %s FOR UPDATE", [task.pk])
        completing = threading.Thread(target=complete)
        with caplog.at_level(logging.INFO, logger="ironclad.transactions"):
            completing.start()
            wait_until_blocked_on_a_lock('SELECT "task"')  # holding the category, waiting for the task
            other.execute("SELECT 1 FROM category WHERE id = %s FOR UPDATE", [work.pk])  # the cycle
            other.commit()
            completing.join()

    assert outcome == {"status": 200}
    assert "transaction rolled back (40P01), running it again" in caplog.text
    assert Task.objects.filter(user=user, completed=False, previous_occurrence=task).count() == 1


def test_a_task_created_while_its_user_is_deleted_never_deadlocks(user):
    """T1 inserts a task (its trigger locks the user's task count) and stays open; T2 deletes the
    user, whose cascade deletes the tasks and updates that count. Had T1 checked the task's user
    only at its commit, it would have waited there for T2's hold on the user row while T2 waited
    for the count: a deadlock. Checked at the insert, T2 waits for T1, then deletes it all."""
    url = the_test_database_url()
    insert = (
        'INSERT INTO "task" ("userId", "title", "description", "completed", "priority", "tags", '
        '"recurrence", "createdAt", "updatedAt") '
        "VALUES (%s, 'Late', '', false, 'low', '[]', 'none', now(), now())"
    )
    errors: list[BaseException] = []

    def delete_the_user() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as deleting:
                deleting.execute('DELETE FROM "user" WHERE "id" = %s', [user.pk])
        except BaseException as error:  # reported below
            errors.append(error)

    with psycopg.connect(url) as creating:
        creating.execute(insert, [user.pk])
        second = threading.Thread(target=delete_the_user)
        second.start()
        wait_until_blocked_on_a_lock('DELETE FROM "user"')
        creating.commit()
    second.join(20)

    assert errors == []
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "task" WHERE "userId" = %s', [user.pk])
        assert cursor.fetchone()[0] == 0
        cursor.execute('SELECT count(*) FROM "task_count" WHERE "userId" = %s', [user.pk])
        assert cursor.fetchone()[0] == 0
