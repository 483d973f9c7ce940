"""Reads of tasks: the task list page, which the REST API and the assistant's tools share.

The page is hand-written SQL: on the API's busiest endpoint the ORM's compilation of this query
cost more than running it (profiled; docs/performance.md). Its columns come from the model
(ironclad.sql) and its orderings from ORDERABLE_FIELDS, so a new field needs no SQL of its own.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from django.db import connection, models
from django.utils import timezone

from accounts.models import User
from ironclad import sql
from todos.models import Priority, Task

# The fields a list can be ordered by, by their API names; `-` in front orders descending.
ORDERABLE_FIELDS = ("created_at", "updated_at", "due_date", "priority", "title")
DEFAULT_ORDERING = "-created_at"
# Fields ordered by meaning rather than by value: their choices, lowest first.
ORDERED_BY_MEANING = {"priority": (Priority.LOW, Priority.MEDIUM, Priority.HIGH)}

# A term is looked for in the title and the description, in any case. On PostgreSQL the tasks that
# hold it are found by `task_search(owner, term, pattern)` (todos/migrations/0006 and 0007): an
# account of up to 500 tasks (task_count) has them read; a larger one has the trigram indexes of
# "the user's id, a space, the text" read with `pattern`, which begins with the user's id: the
# rows that hold both the user's trigrams and the term's, so that a term that matches nothing costs
# the same for 1,000 tasks as for 20,000. The function is planned with sequential scans off:
# PostgreSQL does not count the cost of reading descriptions kept out of line (TOAST), and would
# otherwise read a small table whole, or a large account through the user's B-tree index, however
# long its descriptions (docs/performance.md). SQLite reads the user's tasks; its LIKE ignores case
# already.
SEARCH = {
    "postgresql": 't."id" IN (SELECT "task_search"(%s, %s, %s))',
    "sqlite": "(t.\"title\" LIKE %s ESCAPE '\\' OR t.\"description\" LIKE %s ESCAPE '\\')",
}


# A task as the list reads it: a read-only record (sql.row_type(Task)) whose attributes are the
# model's columns, by their attribute names, with the model's types. To the type checker it is a
# Task, so that a new field needs no declaration here; a record has nothing else, though (no `pk`,
# no related objects such as `category`, no methods): code that takes one reads only its columns.
type TaskRecord = Task


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """Which of a user's tasks a list shows, and in which order; validated (todos.filters)."""

    completed: bool | None = None
    status: str | None = None  # "pending" or "completed" narrow like `completed`; both must hold
    priority: str | None = None
    category: int | None = None
    tag: str | None = None
    search: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    ordering: str = DEFAULT_ORDERING


def _field(name: str) -> "models.Field[Any, Any]":
    field = Task._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{name!r} is not a column of a task")
    return field


def _order_expression(name: str) -> str:
    column = f't."{_field(name).column}"'
    meaning = ORDERED_BY_MEANING.get(name)
    if meaning is None:
        return column
    ranks = " ".join(f"WHEN '{choice}' THEN {rank}" for rank, choice in enumerate(meaning))
    return f"CASE {column} {ranks} END"


@cache
def _order_by(ordering: str) -> str:
    name = ordering.removeprefix("-")
    if name not in ORDERABLE_FIELDS:
        raise ValueError(f"tasks cannot be ordered by {name!r}")
    direction = "DESC" if ordering.startswith("-") else "ASC"
    # A nullable field sorts its NULLs last; the others use their indexes as they are.
    nulls = " NULLS LAST" if _field(name).null else ""
    return f'{_order_expression(name)} {direction}{nulls}, t."id" {direction}'


def task_page(user: User, filters: TaskFilters, *, offset: int, limit: int) -> tuple[list[TaskRecord], int]:
    """One page of a user's tasks, and how many match `filters` in all.

    The tasks are read-only records with the model's attribute names (sql.row_type(Task)): they
    are only displayed, and building model instances was a third of the cost of reading them."""
    conditions: list[str] = ['t."userId" = %s']
    params: list[object] = [user.pk]

    def where(condition: str, *values: object) -> None:
        conditions.append(condition)
        params.extend(values)

    if filters.completed is not None:
        where('t."completed" = %s', filters.completed)
    if filters.status in ("pending", "completed"):
        where('t."completed" = %s', filters.status == "completed")
    if filters.priority:
        where('t."priority" = %s', filters.priority)
    if filters.category is not None:
        where('t."categoryId" = %s', filters.category)
    if filters.tag:
        if connection.vendor == "postgresql":
            where('t."tags" @> %s::jsonb', json.dumps([filters.tag]))
        else:
            where('EXISTS (SELECT 1 FROM json_each(t."tags") WHERE json_each.value = %s)', filters.tag)
    if filters.search and filters.search.strip():
        like = connection.ops.prep_for_like_query
        term = f"%{like(filters.search.strip())}%"
        if connection.vendor == "postgresql":
            where(SEARCH["postgresql"], user.pk, term, f"{like(user.pk)} {term}")
        else:
            where(SEARCH["sqlite"], term, term)
    if filters.due_before is not None:
        where('t."dueDate" <= %s', connection.ops.adapt_datetimefield_value(filters.due_before))
    if filters.due_after is not None:
        where('t."dueDate" >= %s', connection.ops.adapt_datetimefield_value(filters.due_after))
    if filters.overdue is not None:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if filters.overdue:
            where('(t."dueDate" < %s AND NOT t."completed")', now)
        else:
            where('(t."dueDate" IS NULL OR t."dueDate" >= %s OR t."completed")', now)

    # The total is a subquery, as every list counts (ironclad.pagination.CountOf): a window would read
    # every matching row in full, the subquery only the index, and the page just its own rows.
    where_clause = " AND ".join(conditions)
    query = (
        f'SELECT {sql.columns(Task, "t")}, (SELECT COUNT(*) FROM "task" t WHERE {where_clause}) '  # noqa: S608
        f'FROM "task" t WHERE {where_clause} ORDER BY {_order_by(filters.ordering)} LIMIT %s OFFSET %s'
    )
    rows = sql.fetch(query, [*params, *params, limit, offset], Task, 1, records=True)
    return [cast(TaskRecord, task) for task, _ in rows], rows[0][1][0] if rows else 0
