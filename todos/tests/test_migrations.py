"""Data the migrations carry over: each is run from the state before it, with rows written as
they were then."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from todos.models import Task, TaskCount

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def tasks_deleted_first():
    """The tasks go before the test's flush, which empties the tables in no set order: on SQLite,
    deleting a task after its user's change counter would record a change under a number taken."""
    yield
    Task.objects.all().delete()


BEFORE_SERIES = [("todos", "0003_change_feed")]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


def test_the_next_occurrences_made_before_series_were_linked_are_linked_by_the_old_rule():
    """Before, a next occurrence was the task of the same user, title and recurrence due one step
    later; each is linked to the task it came from, so that completing that task again after the
    upgrade makes no second one."""
    old = migrate(BEFORE_SERIES).loader.project_state(BEFORE_SERIES).apps
    user = old.get_model("accounts", "User").objects.create(id="u1", name="Ann", email="ann@example.com")
    tasks = old.get_model("todos", "Task").objects
    due = datetime(2026, 12, 1, 9, tzinfo=UTC)
    done = tasks.create(user=user, title="Water", recurrence="daily", due_date=due, completed=True)
    following = tasks.create(user=user, title="Water", recurrence="daily", due_date=due + timedelta(days=1))
    weekly = tasks.create(user=user, title="Water", recurrence="weekly", due_date=due, completed=True)
    unrelated = tasks.create(user=user, title="Water", recurrence="daily", due_date=due + timedelta(days=5))
    month_end = tasks.create(
        user=user, title="Rent", recurrence="monthly", due_date=datetime(2027, 1, 31, tzinfo=UTC)
    )
    february = tasks.create(
        user=user, title="Rent", recurrence="monthly", due_date=datetime(2027, 2, 28, tzinfo=UTC)
    )

    # Migrated back, the change feed still records every write (SQLite builds a table anew to drop a
    # column, without its triggers).
    recorded = (
        old.get_model("todos", "Change").objects.filter(kind="task").values_list("object_id", flat=True)
    )
    assert sorted(recorded) == sorted(task.pk for task in tasks.all())

    executor = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    linked = dict(Task.objects.values_list("pk", "previous_occurrence_id"))
    assert linked == {
        done.pk: None,
        following.pk: done.pk,
        weekly.pk: None,
        unrelated.pk: None,
        month_end.pk: None,
        february.pk: month_end.pk,
    }
    assert not executor.migration_plan(executor.loader.graph.leaf_nodes())


def test_the_task_counts_start_from_the_tasks_there_are():
    before = [("todos", "0006_search_indexes")]
    old = migrate(before).loader.project_state(before).apps
    users = old.get_model("accounts", "User").objects
    ann = users.create(id="u1", name="Ann", email="ann@example.com")
    users.create(id="u2", name="Ben", email="ben@example.com")  # no tasks: no count
    tasks = old.get_model("todos", "Task").objects
    for title in ("A", "B", "C"):
        tasks.create(user=ann, title=title)

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    Task.objects.create(user_id="u1", title="D")  # the trigger counts from there

    assert dict(TaskCount.objects.values_list("user_id", "tasks")) == {"u1": 4}
