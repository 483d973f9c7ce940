"""Query-string filters and ordering for the task list (DESIGN §4). Bad values are a 400."""

import django_filters
from django import forms
from django.db import connection
from django.db.models import BooleanField, Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from todos.models import Priority, Task

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


def _choices(values) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no, any case); anything else is an error, not "no filter"."""

    VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Use true or false.") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class LowercaseChoiceField(django_filters.fields.ChoiceField):
    def to_python(self, value):
        return super().to_python(value).strip().lower()


class LowercaseChoiceFilter(django_filters.ChoiceFilter):
    """A choice given in any case: `priority=HIGH` means `high`."""

    field_class = LowercaseChoiceField


class TaskFilter(django_filters.FilterSet):
    completed = StrictBooleanFilter()
    status = LowercaseChoiceFilter(choices=_choices(["all", "pending", "completed"]), method="filter_status")
    priority = LowercaseChoiceFilter(choices=Priority.choices)
    category = IntegerFilter(field_name="category_id")
    tag = django_filters.CharFilter(method="filter_tag")
    search = django_filters.CharFilter(method="filter_search")
    due_before = django_filters.IsoDateTimeFilter(field_name="due_date", lookup_expr="lte")
    due_after = django_filters.IsoDateTimeFilter(field_name="due_date", lookup_expr="gte")
    overdue = StrictBooleanFilter(method="filter_overdue")
    ordering = LowercaseChoiceFilter(
        choices=_choices([*ORDERING_FIELDS, *(f"-{field}" for field in ORDERING_FIELDS)]),
        method="filter_noop",
    )
    sort = LowercaseChoiceFilter(choices=_choices(SORT_ALIASES), method="filter_noop")
    order = LowercaseChoiceFilter(choices=_choices(["asc", "desc"]), method="filter_noop")

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "all":
            return queryset
        return queryset.filter(completed=value == "completed")

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if connection.vendor == "postgresql":
            return queryset.filter(tags__contains=[value])
        # SQLite has no JSON containment operator; json_each reads the list instead.
        has_tag = RawSQL(
            'EXISTS (SELECT 1 FROM json_each("task"."tags") WHERE json_each.value = %s)',
            [value],
            output_field=BooleanField(),
        )
        return queryset.filter(has_tag)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        overdue = Q(due_date__lt=timezone.now(), completed=False)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_noop(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # ordering is applied once, after every filter, in filter_queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return order_tasks(super().filter_queryset(queryset), self.ordering_field())

    def ordering_field(self) -> str:
        data = self.form.cleaned_data
        if data.get("ordering"):
            if data.get("sort"):
                raise ValidationError({"sort": ["Use either `ordering` or `sort` with `order`, not both."]})
            return data["ordering"]
        if data.get("sort"):
            field = SORT_ALIASES[data["sort"]]
            return field if data.get("order") == "asc" else f"-{field}"
        if data.get("order"):
            raise ValidationError({"order": ["`order` needs `sort`."]})
        return "-created_at"


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
