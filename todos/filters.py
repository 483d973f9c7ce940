"""Query-string filters and ordering for the task list (docs/api.md). Bad values are a 400.

Declared once, as a DRF serializer: it validates them and drf-spectacular documents them
(cheaper than django-filter: docs/performance.md#where-the-time-went).
"""

import copy
import re
from datetime import time
from typing import Any

from rest_framework import serializers

from ironclad.serializers import IntegerField, QueryBooleanField
from todos.models import TAG_MAX_LENGTH, Priority
from todos.selectors import ORDERABLE_FIELDS, TaskFilters
from todos.serializers import DayOrMomentField, LenientChoiceField

SEARCH_MAX_LENGTH = 100
# What the trigram indexes can look up: three letters or digits in a row (pg_trgm ignores the rest).
SEARCHABLE = re.compile(r"[^\W_]{3}")

# `sort` values that older front ends send instead of `ordering`: every orderable field, and two
# short names.
SORT_ALIASES = {"created": "created_at", "updated": "updated_at"} | {name: name for name in ORDERABLE_FIELDS}


class TaskListParams(serializers.Serializer):
    """The task list's query parameters, read from a plain dict (`query_params.dict()`); once
    valid, `filters` holds them as the selector takes them."""

    completed = QueryBooleanField(required=False, help_text="true: done tasks; false: open ones.")
    status = LenientChoiceField(choices=["all", "pending", "completed"], required=False)
    priority = LenientChoiceField(choices=Priority.choices, required=False)
    category = IntegerField(required=False, min_value=1, help_text="A category id.")
    tag = serializers.CharField(required=False, max_length=TAG_MAX_LENGTH, help_text="Tasks with this tag.")
    search = serializers.CharField(
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Text in the title or description, any case: up to "
        f"{SEARCH_MAX_LENGTH} characters, with at least 3 letters or digits in a row (what the "
        "search index looks up).",
    )
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
        choices=[*ORDERABLE_FIELDS, *(f"-{field}" for field in ORDERABLE_FIELDS)],
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

    def validate_search(self, search: str) -> str:
        if not SEARCHABLE.search(search):
            raise serializers.ValidationError(
                "Give at least 3 letters or digits in a row (e.g. 'milk'): a shorter term would "
                "read every task."
            )
        return search

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies declared fields per instance (docs/performance.md); these keep no state
        # but their binding, which bind() sets on the copy, so a shallow copy is enough.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    @property
    def filters(self) -> TaskFilters:
        params = dict(self.validated_data)
        sort, order = params.pop("sort", None), params.pop("order", None)
        if "ordering" not in params:  # `ordering` wins; else `sort` (default: created), `order` way
            field = SORT_ALIASES[sort or "created"]
            params["ordering"] = field if order == "asc" else f"-{field}"
        return TaskFilters(**params)


def task_filters(query: dict[str, Any]) -> TaskFilters:
    """The filters of a task list's query string; a ValidationError (400) names each bad one."""
    params = TaskListParams(data=query)
    params.is_valid(raise_exception=True)
    return params.filters
