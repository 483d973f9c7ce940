"""Validation and representation of tasks and categories. Writes go through todos.services."""

import functools
import keyword
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, cast

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from ironclad.exceptions import Conflict
from ironclad.serializers import IntegerField, ModelSerializer, Serializer
from ironclad.untrusted import BIGINT_MAX, clip, whole_number
from todos.changes import Cursor, InvalidCursor, decode_cursor
from todos.dates import EARLIEST_DUE, END_OF_DAY, LATEST_DUE, REMINDER_TIME, day_at, in_due_range
from todos.models import (
    CATEGORY_NAME_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    MAX_TAGS,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Category,
    ChangeKind,
    Priority,
    Recurrence,
    Task,
)
from todos.selectors import TaskRecord
from todos.services import BulkAction

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DAY_OR_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)


def iso_timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in TIME_ZONE, exactly as DRF's DateTimeField writes it (a test holds them equal).

    Ironclad never activates a per-request zone, so the default zone is read directly: DRF's
    lookup of the current zone was half of the cost of formatting a timestamp.
    """
    if value is None:
        return None
    default = timezone.get_default_timezone()
    # For UTC the database's own UTC object: astimezone then returns the value as it is.
    zone: tzinfo = UTC if default.key == "UTC" else default
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:  # a row from before due dates had their range, at the end of time: UTC
        text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@extend_schema_field(
    {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
        "example": "2026-12-01T09:00:00Z",
        "description": "YYYY-MM-DD, or a date-time (without an offset: in the server's time zone). "
        "A due date lies from 0001-01-02 to 9999-12-30 UTC.",
    }
)
class DayOrMomentField(serializers.DateTimeField):
    """An ISO 8601 date-time, or a date alone (2026-12-05), which stands for the moment `day_time`
    picks for that day (todos.dates: the end of the day for a due date). Naive values are read in
    TIME_ZONE. A due date must lie in the range of todos.dates, so that no later step (showing it
    in another time zone, moving it on by a recurrence) leaves the years a datetime can hold; a
    bound of a filter (`clamp`) beyond that range selects what the range's end would."""

    default_error_messages = {
        "invalid": "Use YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.ffffff]] with Z, ±hh:mm or nothing.",
        "out_of_range": f"Must be from {EARLIEST_DUE.date()} to {LATEST_DUE.date()} (UTC).",
    }

    def __init__(self, *, day_time: time = END_OF_DAY, clamp: bool = False, **kwargs) -> None:
        self.day_time = day_time
        self.clamp = clamp
        super().__init__(**kwargs)

    def to_internal_value(self, value) -> datetime:
        # RFC 3339 dates and date-times, as the schema says, and date-times without an offset.
        # Django's parser takes many more ("2026-12-05 09:00", "20261205", digits of any script).
        if not isinstance(value, str) or not DAY_OR_MOMENT.fullmatch(value):
            self.fail("invalid")
        try:
            if len(value) == len("YYYY-MM-DD"):
                moment = day_at(date.fromisoformat(value), self.day_time)
            else:
                moment = datetime.fromisoformat(value.upper())
        except ValueError:  # 2026-02-30, year 0
            self.fail("invalid")
        try:
            if timezone.is_naive(moment):
                moment = self.enforce_timezone(moment)  # in TIME_ZONE; refuses a time a DST change skips
            within = in_due_range(moment)
        except OverflowError:  # the year 0 or 10000 once in UTC
            within = False
        if within:
            return moment
        if self.clamp:
            return EARLIEST_DUE if moment.year < 5000 else LATEST_DUE
        self.fail("out_of_range")


class LenientChoiceField(serializers.ChoiceField):
    """A choice read in any case ("HIGH" -> "high"); written back in its canonical form. A refusal
    quotes the start of the value only."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().lower()
        if (data == "" and self.allow_blank) or str(data) in self.choice_strings_to_values:
            return super().to_internal_value(data)
        self.fail("invalid_choice", input=clip(data))


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": BIGINT_MAX})
class OwnCategoryField(serializers.PrimaryKeyRelatedField):
    """A category id of the signed-in user; another user's id reads as one that does not exist."""

    def get_queryset(self):
        return Category.objects.for_user(self.context["user"])

    def to_internal_value(self, data) -> Category:
        category_id = whole_number(data)
        if category_id is None:  # the database would read 1.5 as 1
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(category_id)


# Fields whose rendering of a value the model holds is that value itself (a string, a boolean, a
# whole number, a choice as stored, a related object's id), unless a subclass renders otherwise.
_AS_IS = frozenset(
    field_class.to_representation
    for field_class in (
        serializers.CharField,
        serializers.BooleanField,
        serializers.IntegerField,
        serializers.ChoiceField,
        serializers.PrimaryKeyRelatedField,
    )
)


def _as_is(field: serializers.Field) -> bool:
    if isinstance(field, serializers.ListField):
        each_item_by_its_child = type(field).to_representation is serializers.ListField.to_representation
        return each_item_by_its_child and _as_is(field.child)
    if isinstance(field, serializers.PrimaryKeyRelatedField) and field.pk_field is not None:
        return False
    if type(field).to_representation is serializers.BigIntegerField.to_representation:
        return not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    return type(field).to_representation in _AS_IS


def _is_a_timestamp(field: serializers.Field) -> bool:
    """A date-time field that renders as `iso_timestamp` does: ISO 8601, in TIME_ZONE."""
    return (
        type(field).to_representation is serializers.DateTimeField.to_representation
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        and not hasattr(field, "timezone")  # a zone of its own
    )


def _by_the_field(field: serializers.Field) -> Callable[[Any], Any]:
    render = field.to_representation
    return lambda value: None if value is None else render(value)


class RepresentationPlan:
    """How a serializer renders an object, from its readable fields: for each, its name, the
    model's column it reads, and how its value becomes JSON (a timestamp by `iso_timestamp`, a plain
    value as it is, any other by the field's own to_representation, unbound from any request).

    It reads columns only, by their attribute names (`category_id`), so that it renders the
    read-only records of the list (ironclad.sql.row_type) as well as model instances. `render` is
    compiled from the plan into one dict display, as namedtuple and dataclasses compile theirs: a
    loop over the fields cost a quarter more (docs/performance.md#where-the-time-went)."""

    def __init__(self, serializer: serializers.ModelSerializer) -> None:
        model: type[models.Model] = serializer.Meta.model
        self.names: list[str] = []
        self.attributes: list[str] = []
        self.converters: dict[str, Callable[[Any], Any]] = {}
        for field in serializer._readable_fields:
            name = str(field.field_name)
            where = f"{type(serializer).__name__}.{name}"
            try:
                (source,) = field.source_attrs  # not "*", nor a path (a.b)
                column = model._meta.get_field(source)
            except (ValueError, FieldDoesNotExist):
                column = None
            if not isinstance(column, models.Field) or not column.concrete:
                raise TypeError(f"{where}: not a column of the model")
            if (
                column.is_relation
                and source == column.name
                and not (isinstance(field, serializers.PrimaryKeyRelatedField) and _as_is(field))
            ):
                raise TypeError(f"{where}: of a related object, only its id is read")
            self.names.append(name)
            self.attributes.append(column.attname)
            if _is_a_timestamp(field):
                self.converters[name] = iso_timestamp
            elif not _as_is(field):
                self.converters[name] = _by_the_field(field)
        self.render = self._compiled(type(serializer).__name__)

    def _compiled(self, name: str) -> Callable[[Any], dict[str, Any]]:
        namespace: dict[str, Any] = {}
        items = []
        for position, (key, attribute) in enumerate(zip(self.names, self.attributes, strict=True)):
            if not attribute.isidentifier() or keyword.iskeyword(attribute):
                raise TypeError(f"{name}: {attribute!r} is not an attribute name")
            value = f"instance.{attribute}"
            if key in self.converters:
                namespace[f"convert_{position}"] = self.converters[key]
                value = f"convert_{position}({value})"
            items.append(f"{key!r}: {value}")
        source = f"def render(instance):\n    return {{{', '.join(items)}}}\n"
        exec(compile(source, f"<{name} representation>", "exec"), namespace)  # noqa: S102 (our own fields)
        return cast(Callable[[Any], dict[str, Any]], namespace["render"])


@functools.cache
def representation_plan(serializer_class: type[serializers.ModelSerializer]) -> RepresentationPlan:
    """The serializer class's plan, made once (a test that changes its fields at run time clears
    this cache)."""
    return RepresentationPlan(serializer_class())


class TaskSerializer(ModelSerializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False, trim_whitespace=False
    )
    priority = LenientChoiceField(choices=Priority.choices, required=False)
    recurrence = LenientChoiceField(choices=Recurrence.choices, required=False)
    due_date = DayOrMomentField(
        allow_null=True, required=False, help_text="A date-time, or a date alone for the end of that day."
    )
    remind_at = DayOrMomentField(
        allow_null=True,
        required=False,
        day_time=REMINDER_TIME,
        help_text="When to remind you: a task.reminder event goes to your webhooks then, unless the task is "
        f"completed or deleted by then. A date-time, or a date alone for {REMINDER_TIME:%H:%M} that day.",
    )
    category_id = OwnCategoryField(
        source="category",
        allow_null=True,
        required=False,
        help_text="The id of one of your categories (any other id is a 400), or null.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH), max_length=MAX_TAGS, required=False
    )
    user_id = serializers.CharField(read_only=True)
    previous_occurrence_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The task of the same recurring series whose completion created this one, or null.",
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "description",
            "completed",
            "priority",
            "due_date",
            "remind_at",
            "category_id",
            "tags",
            "recurrence",
            "previous_occurrence_id",
            "completed_at",
            "created_at",
            "updated_at",
            "user_id",
        ]
        read_only_fields = ["completed_at", "created_at", "updated_at"]

    def to_representation(self, task: TaskRecord) -> dict[str, Any]:
        # Lists render up to 100 tasks, too many for DRF's field-by-field path (docs/performance.md):
        # a plan made once from the fields renders them, held equal to that path by a test.
        return representation_plan(type(self)).render(task)

    def validate_tags(self, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))  # distinct, first occurrence wins

    def validate(self, attrs: dict) -> dict:
        # PUT replaces the whole task: a column it leaves out returns to the model's default.
        if self.instance is not None and not self.partial:
            model_fields = {field.name: field for field in Task._meta.concrete_fields}
            for field in self._writable_fields:
                if field.source in model_fields and field.source not in attrs:
                    attrs[field.source] = model_fields[field.source].get_default()
        return attrs


class TaskCompleteSerializer(Serializer):
    """Body of PATCH /tasks/{id}/complete: empty to toggle, or {"completed": bool} to set."""

    completed = serializers.BooleanField(required=False)


class CategorySerializer(ModelSerializer):
    name = serializers.CharField(max_length=CATEGORY_NAME_MAX_LENGTH)
    color = serializers.RegexField(
        HEX_COLOR,
        allow_null=True,
        required=False,
        error_messages={"invalid": "Use a colour of the form #rrggbb."},
    )

    class Meta:
        model = Category
        fields = ["id", "name", "color", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_color(self, color: str | None) -> str | None:
        return color.lower() if color else color

    def validate_name(self, name: str) -> str:
        # Compared as the unique constraint compares them, lower(name) in the database: Python's
        # or SQL's upper() disagree with it on letters such as the Kelvin sign (U+212A).
        user = self.context["user"]
        others = (
            Category.objects.for_user(user)
            .alias(lower_name=Lower("name"))
            .filter(lower_name=Lower(Value(name)))
        )
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            conflict = Conflict("You already have a category with this name.")
            conflict.details = {"name": [str(conflict.detail)]}
            raise conflict
        return name

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None and not self.partial:
            attrs.setdefault("color", None)
        return attrs


class ChangesParams(serializers.Serializer):
    """The change feed's query parameters."""

    cursor = serializers.CharField(
        required=False,
        help_text="`meta.cursor` of the previous answer. Without one: every task and category you "
        "have now, then a cursor.",
    )
    page_size = IntegerField(required=False, min_value=1, max_value=500, default=100)

    def validate_cursor(self, cursor: str) -> Cursor:
        try:
            return decode_cursor(cursor)
        except InvalidCursor:
            raise serializers.ValidationError(
                "Not a cursor from this feed: use meta.cursor as given."
            ) from None


class ChangeSerializer(serializers.Serializer):
    """One changed task or category, as it is now; a deleted one has only type, id and deleted."""

    type = serializers.ChoiceField(choices=ChangeKind.choices, read_only=True)
    id = serializers.IntegerField(read_only=True)
    deleted = serializers.BooleanField(read_only=True)
    # Not read-only, which the schema would make required: a tombstone has none.
    etag = serializers.CharField(
        required=False, allow_blank=True, help_text="Its ETag, for If-Match on a later write."
    )
    # DRF's metaclass takes declared fields off the class: this one does not hide Serializer.data.
    data = PolymorphicProxySerializer(  # type: ignore[assignment]
        component_name="ChangedObject",
        serializers=[TaskSerializer, CategorySerializer],
        resource_type_field_name=None,
        required=False,
        help_text="The task or category as GET shows it; absent when deleted.",
    )


BULK_MAX_IDS = 100


@extend_schema_field(TaskSerializer(partial=True))
class TaskFieldsField(serializers.DictField):
    """Fields of a task to set, as PATCH /api/tasks/{id} takes them."""

    def to_internal_value(self, data) -> dict[str, Any]:
        fields = TaskSerializer(data=data, partial=True, context=self.context)
        if not isinstance(data, dict) or not data:
            raise serializers.ValidationError("Give at least one field to set, as PATCH takes them.")
        fields.is_valid(raise_exception=True)
        return dict(fields.validated_data)


class TaskBulkSerializer(Serializer):
    action = LenientChoiceField(choices=BulkAction.choices)
    ids = serializers.ListField(
        child=IntegerField(min_value=1),
        min_length=1,
        max_length=BULK_MAX_IDS,
        help_text=f"1 to {BULK_MAX_IDS} ids of your tasks, each once.",
    )
    # DRF's metaclass takes declared fields off the class: this one does not hide Serializer.fields.
    fields = TaskFieldsField(  # type: ignore[assignment]
        required=False, help_text='For "update" only: the fields to set on every task.'
    )

    def validate_ids(self, ids: list[int]) -> list[int]:
        repeated = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
        if repeated:
            raise serializers.ValidationError(f"Each id at most once: {', '.join(map(str, repeated))}.")
        return ids

    def validate(self, attrs: dict) -> dict:
        updating = attrs["action"] == BulkAction.UPDATE
        if updating and "fields" not in attrs:
            raise serializers.ValidationError({"fields": ['Required for "update".']})
        if not updating and "fields" in attrs:
            raise serializers.ValidationError({"fields": ['Only "update" takes fields.']})
        return attrs
