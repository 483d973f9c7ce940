"""The API's serializer bases and fields: bodies hold only what their OpenAPI schema says (no unknown
or read-only field, each value of its JSON type), and integers are whole numbers in ASCII digits."""

import copy
from collections.abc import Mapping
from typing import ClassVar

from rest_framework import exceptions, serializers

from ironclad.untrusted import BIGINT_MAX, BIGINT_MIN, whole_number

# The serializers below are commented, not docstringed: the OpenAPI schema would give a docstring
# to every serializer built on them as its description.


# What a body may hold is what its OpenAPI schema says: DRF would take 5 for a string ("5"), "yes"
# or 1 for a boolean and "5" for an integer, none of which the schema allows. Checked before
# DRF's own validation, per field class (a subclass inherits its base's rule); null is left to
# the field's allow_null.
JSON_TYPES: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "Must be true or false."),
    (serializers.IntegerField, (int, float), "Must be a whole number."),
    (serializers.PrimaryKeyRelatedField, (int, float), "Must be a whole number."),
    (serializers.CharField, (str,), "Must be a string."),
    (serializers.ChoiceField, (str,), "Must be a string."),
    (serializers.DateTimeField, (str,), "Must be a string."),
    (serializers.ListField, (list,), "Must be a list."),
    (serializers.DictField, (dict,), "Must be an object."),
]


def json_type_error(field: serializers.Field, value: object) -> str | None:
    """Why `value` does not have the JSON type `field` takes (a list: also its items), or None."""
    if value is None:
        return None
    for field_class, types, message in JSON_TYPES:
        if isinstance(field, field_class):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return message
            break
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next(filter(None, (json_type_error(field.child, item) for item in value)), None)
    return None


def body_errors(fields: Mapping[str, serializers.Field], data: Mapping) -> dict[str, list[str]]:
    """Per-field messages for the names `fields` does not have or cannot write, and for the values
    of the wrong type."""
    errors = {str(name): ["Unknown field."] for name in data.keys() - fields.keys()}
    for name, field in fields.items():
        if name not in data:
            continue
        if field.read_only:
            errors[name] = ["This field is read-only."]
        elif message := json_type_error(field, data[name]):
            errors[name] = [message]
    return dict(sorted(errors.items()))


# A body field the serializer does not have, or may not be written, is a 400 that names it, as an
# unknown query parameter is (StrictQueryParams): a typo ("titel") must not be dropped silently,
# nor `user_id` look as if it had been taken.
class StrictBody:
    def to_internal_value(self, data):
        if isinstance(data, Mapping) and (errors := body_errors(self.fields, data)):
            raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


class Serializer(StrictBody, serializers.Serializer):
    pass


# DRF's ModelSerializer with a strict body, building its fields from the model once per class
# rather than per instance (docs/performance.md); each instance still gets its own deep copy.
class ModelSerializer(StrictBody, serializers.ModelSerializer):
    _fields_template: ClassVar[dict[str, serializers.Field]]  # set on each class by get_fields

    def get_fields(self) -> dict[str, serializers.Field]:
        template = type(self).__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()  # depends on the class only, never on the instance
            type(self)._fields_template = template
        return copy.deepcopy(template)


class IntegerField(serializers.IntegerField):
    """DRF's IntegerField, strict: whole numbers in ASCII digits only (DRF's reads "٣" as 3 and
    1.5 as 1), within PostgreSQL's bigint unless narrower bounds are given."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", BIGINT_MIN)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> int:
        value = whole_number(data)
        if value is None:
            self.fail("invalid")
        return value


class QueryBooleanField(serializers.BooleanField):
    """A query parameter that is `true` or `false` (any case), as its schema says; DRF would also
    take 1, yes, on and their opposites. (The chat's tools pass JSON booleans.)"""

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        text = data.strip().lower() if isinstance(data, str) else None
        if text not in ("true", "false"):
            self.fail("invalid", input=data)
        return text == "true"
