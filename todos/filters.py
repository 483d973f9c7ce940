"""Query-string filters and ordering for the task list (DESIGN §4). Bad values are a 400.

The parameters are declared once, as a DRF serializer: it validates them (per-parameter
errors in the error envelope) and drf-spectacular documents them. django-filter did the same
job at four times the cost per request (0.56 ms against 0.13 ms, measured), on the API's
busiest endpoint.
"""

from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rest_framework import serializers

from todos.models import TAG_MAX_LENGTH, Priority
from todos.serializers import LenientChoiceField

ORDERING_FIELDS = ("created_at", "updated_at", "due_date", "priority", "title")
# `sort` values the original plans' front ends send, mapped to our ordering fields.
SORT_ALIASES = {
    "created": "created_at",
    "created_at": "created_at",
    "updated": "updated_at",
    "updated_at": "updated_at",
    "title": "title",
    "priority": "priority",
    "due_date": "due_date",
}
PRIORITY_RANK = Case(
    When(priority=Priority.HIGH, then=Value(3)),
    When(priority=Priority.MEDIUM, then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
)


class TaskListParams(serializers.Serializer):
    """The task list's query parameters. Read from a plain dict (`query_params.dict()`)."""

    completed = serializers.BooleanField(required=False, help_text="true: done tasks; false: open ones.")
    status = LenientChoiceField(choices=["all", "pending", "completed"], required=False)
    priority = LenientChoiceField(choices=Priority.choices, required=False)
    category = serializers.IntegerField(required=False, help_text="A category id.")
    tag = serializers.CharField(required=False, max_length=TAG_MAX_LENGTH, help_text="Tasks with this tag.")
    search = serializers.CharField(required=False, help_text="Words in the title or description, any case.")
    due_before = serializers.DateTimeField(
        required=False, help_text="Due at or before (a date or date-time)."
    )
    due_after = serializers.DateTimeField(required=False, help_text="Due at or after (a date or date-time).")
    overdue = serializers.BooleanField(
        required=False, help_text="true: open tasks whose due date has passed."
    )
    ordering = LenientChoiceField(
        choices=[*ORDERING_FIELDS, *(f"-{field}" for field in ORDERING_FIELDS)],
        required=False,
        help_text="A field, `-` for descending. Priority sorts by meaning (high > medium > low).",
    )
    sort = LenientChoiceField(choices=list(SORT_ALIASES), required=False, help_text="Alias of `ordering`.")
    order = LenientChoiceField(
        choices=["asc", "desc"], required=False, help_text="With `sort`; default desc."
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("ordering") and attrs.get("sort"):
            raise serializers.ValidationError(
                {"sort": ["Use either `ordering` or `sort` with `order`, not both."]}
            )
        if attrs.get("order") and not attrs.get("sort"):
            raise serializers.ValidationError({"order": ["`order` needs `sort`."]})
        return attrs


def filter_tasks(
    queryset: QuerySet,
    *,
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
) -> QuerySet:
    """Apply validated TaskListParams to a queryset of one user's tasks."""
    if completed is not None:
        queryset = queryset.filter(completed=completed)
    if status in ("pending", "completed"):
        queryset = queryset.filter(completed=status == "completed")
    if priority:
        queryset = queryset.filter(priority=priority)
    if category is not None:
        queryset = queryset.filter(category_id=category)
    if tag:
        queryset = with_tag(queryset, tag)
    if search and search.strip():
        queryset = queryset.filter(
            Q(title__icontains=search.strip()) | Q(description__icontains=search.strip())
        )
    if due_before is not None:
        queryset = queryset.filter(due_date__lte=due_before)
    if due_after is not None:
        queryset = queryset.filter(due_date__gte=due_after)
    if overdue is not None:
        is_overdue = Q(due_date__lt=timezone.now(), completed=False)
        queryset = queryset.filter(is_overdue) if overdue else queryset.exclude(is_overdue)
    if sort:
        ordering = SORT_ALIASES[sort] if order == "asc" else f"-{SORT_ALIASES[sort]}"
    return order_tasks(queryset, ordering or "-created_at")


def with_tag(queryset: QuerySet, tag: str) -> QuerySet:
    if connection.vendor == "postgresql":
        return queryset.filter(tags__contains=[tag])
    # SQLite has no JSON containment operator; json_each reads the list instead.
    has_tag = RawSQL(
        'EXISTS (SELECT 1 FROM json_each("task"."tags") WHERE json_each.value = %s)',
        [tag],
        output_field=BooleanField(),
    )
    return queryset.filter(has_tag)


def order_tasks(queryset: QuerySet, ordering: str) -> QuerySet:
    """Order by one field (`-` for descending), priority by meaning; no due date sorts last."""
    descending = ordering.startswith("-")
    field = ordering.lstrip("-")
    if field == "priority":
        queryset = queryset.annotate(priority_rank=PRIORITY_RANK)
        field = "priority_rank"
    if descending:
        return queryset.order_by(F(field).desc(nulls_last=True), "-id")
    return queryset.order_by(F(field).asc(nulls_last=True), "id")
