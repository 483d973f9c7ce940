"""Query-string filters and ordering for the task list (README "The API in brief"). Bad values are a 400.

The parameters are declared once, as a DRF serializer: it validates them (per-parameter
errors in the error envelope) and drf-spectacular documents them. django-filter did the same
job at four times the cost per request (0.56 ms against 0.13 ms, measured), on the API's
busiest endpoint.
"""

import copy
import json
from datetime import datetime, time

from django.db import connection
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from ironclad import sql
from ironclad.api import IntegerField, QueryBooleanField
from todos.models import TAG_MAX_LENGTH, Priority, Task
from todos.serializers import DayOrMomentField, LenientChoiceField

ORDERING_FIELDS = ("created_at", "updated_at", "due_date", "priority", "title")
# `sort` values that older front ends send instead of `ordering`, mapped to our ordering fields.
SORT_ALIASES = {
    "created": "created_at",
    "created_at": "created_at",
    "updated": "updated_at",
    "updated_at": "updated_at",
    "title": "title",
    "priority": "priority",
    "due_date": "due_date",
}


class TaskListParams(serializers.Serializer):
    """The task list's query parameters. Read from a plain dict (`query_params.dict()`)."""

    completed = QueryBooleanField(required=False, help_text="true: done tasks; false: open ones.")
    status = LenientChoiceField(choices=["all", "pending", "completed"], required=False)
    priority = LenientChoiceField(choices=Priority.choices, required=False)
    category = IntegerField(required=False, min_value=1, help_text="A category id.")
    tag = serializers.CharField(required=False, max_length=TAG_MAX_LENGTH, help_text="Tasks with this tag.")
    search = serializers.CharField(required=False, help_text="Words in the title or description, any case.")
    due_before = DayOrMomentField(
        required=False,
        day_time=time.max,
        clamp=True,
        help_text="Due at or before (a date: by the end of that day).",
    )
    due_after = DayOrMomentField(
        required=False,
        day_time=time.min,
        clamp=True,
        help_text="Due at or after (a date: from the start of that day).",
    )
    overdue = QueryBooleanField(required=False, help_text="true: open tasks whose due date has passed.")
    ordering = LenientChoiceField(
        choices=[*ORDERING_FIELDS, *(f"-{field}" for field in ORDERING_FIELDS)],
        required=False,
        help_text="A field, `-` for descending. Priority sorts by meaning (high > medium > low).",
    )
    sort = LenientChoiceField(
        choices=list(SORT_ALIASES),
        required=False,
        help_text="Alias of `ordering`, which wins when both are given.",
    )
    order = LenientChoiceField(
        choices=["asc", "desc"],
        required=False,
        help_text="The direction of `sort` (or of the default order, created); default desc.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field for each instance: on the busiest endpoint that
        # cost more than the validation itself (profiled under bench/load.py). These fields keep
        # no state but their binding, which bind() sets on the copy: a shallow copy is enough.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


# The task list page is hand-written SQL: on the API's busiest endpoint the ORM's compilation of
# this query, with its window count, cost more than running it (profiled; see ironclad/sql.py).
TASK_COLUMNS = sql.columns(Task, "t")
ORDER_EXPRESSIONS = {
    "created_at": 't."createdAt"',
    "updated_at": 't."updatedAt"',
    "title": 't."title"',
    "due_date": 't."dueDate"',
    # By meaning, not alphabetically: high > medium > low.
    "priority": "CASE t.\"priority\" WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END",
}
LIKE = {"postgresql": "ILIKE", "sqlite": "LIKE"}  # SQLite's LIKE ignores case already


def task_page(
    user: User,
    *,
    offset: int,
    limit: int,
    completed: bool | None = None,
    status: str | None = None,
    priority: str | None = None,
    category: int | None = None,
    tag: str | None = None,
    search: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    overdue: bool | None = None,
    ordering: str | None = None,
    sort: str | None = None,
    order: str | None = None,
) -> tuple[list[tuple], int]:
    """One page of a user's tasks filtered by validated TaskListParams, and the total that match.

    The tasks are read-only records with the model's attribute names (sql.row_type(Task)): they
    are only displayed, and building model instances was a third of the cost of reading them."""
    conditions, params = ['t."userId" = %s'], [user.pk]

    def where(condition: str, *values) -> None:
        conditions.append(condition)
        params.extend(values)

    if completed is not None:
        where('t."completed" = %s', completed)
    if status in ("pending", "completed"):
        where('t."completed" = %s', status == "completed")
    if priority:
        where('t."priority" = %s', priority)
    if category is not None:
        where('t."categoryId" = %s', category)
    if tag:
        if connection.vendor == "postgresql":
            where('t."tags" @> %s::jsonb', json.dumps([tag]))
        else:
            where('EXISTS (SELECT 1 FROM json_each(t."tags") WHERE json_each.value = %s)', tag)
    if search and search.strip():
        pattern = f"%{connection.ops.prep_for_like_query(search.strip())}%"
        like = LIKE[connection.vendor]
        where(
            f"(t.\"title\" {like} %s ESCAPE '\\' OR t.\"description\" {like} %s ESCAPE '\\')",
            pattern,
            pattern,
        )
    if due_before is not None:
        where('t."dueDate" <= %s', connection.ops.adapt_datetimefield_value(due_before))
    if due_after is not None:
        where('t."dueDate" >= %s', connection.ops.adapt_datetimefield_value(due_after))
    if overdue is not None:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if overdue:
            where('(t."dueDate" < %s AND NOT t."completed")', now)
        else:
            where('(t."dueDate" IS NULL OR t."dueDate" >= %s OR t."completed")', now)

    if not ordering:  # `ordering` wins; otherwise `sort` (default: created) in the direction `order`
        field = SORT_ALIASES[sort or "created"]
        ordering = field if order == "asc" else f"-{field}"
    field = ordering.lstrip("-")
    direction = "DESC" if ordering.startswith("-") else "ASC"
    nulls = " NULLS LAST" if field == "due_date" else ""  # the one nullable field; others use indexes
    order_by = f'{ORDER_EXPRESSIONS[field]} {direction}{nulls}, t."id" {direction}'

    # The total is a subquery rather than COUNT(*) OVER (): a window reads every matching row in
    # full, the subquery only the index, and the page then reads just its own rows.
    where_clause = " AND ".join(conditions)
    query = (
        f'SELECT {TASK_COLUMNS}, (SELECT COUNT(*) FROM "task" t WHERE {where_clause}) '  # noqa: S608
        f'FROM "task" t WHERE {where_clause} ORDER BY {order_by} LIMIT %s OFFSET %s'
    )
    rows = sql.fetch(query, [*params, *params, limit, offset], Task, 1, records=True)
    return [task for task, _ in rows], rows[0][1][0] if rows else 0
