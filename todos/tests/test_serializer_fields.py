"""Serializers build their fields more cheaply than DRF does (ironclad.serializers.ModelSerializer,
TaskListParams.get_fields), but each instance still owns its fields: nothing one request binds
or validates reaches another."""

import pytest

from todos.filters import TaskListParams
from todos.serializers import TaskSerializer


def fields_of(serializer) -> dict:
    return dict(serializer.fields)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda user: TaskSerializer(context={"user": user}), id="task"),
        pytest.param(lambda user: TaskListParams(data={"status": "pending"}), id="list-parameters"),
    ],
)
def test_each_instance_owns_fields_bound_to_itself(make, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    first, second = make(alice), make(bob)

    first_fields, second_fields = fields_of(first), fields_of(second)

    assert first_fields.keys() == second_fields.keys()
    for name in first_fields:
        assert first_fields[name] is not second_fields[name], name
        assert first_fields[name].parent is first and second_fields[name].parent is second, name
        assert first_fields[name].field_name == name
    if "category_id" in first_fields:  # the field that reads the owner from the context
        assert first_fields["category_id"].context["user"] == alice
        assert second_fields["category_id"].context["user"] == bob


def test_the_task_serializer_fields_match_drfs_own():
    """The cached construction gives what DRF's ModelSerializer builds for each instance."""
    from rest_framework import serializers

    mine = fields_of(TaskSerializer())
    drfs = serializers.ModelSerializer.get_fields(TaskSerializer())

    assert list(mine) == list(drfs)
    for name, field in mine.items():
        assert type(field) is type(drfs[name]), name
        assert (field.read_only, field.required, field.allow_null) == (
            drfs[name].read_only,
            drfs[name].required,
            drfs[name].allow_null,
        ), name


def test_list_parameters_validate_independently():
    first = TaskListParams(data={"status": "pending", "ordering": "-priority"})
    second = TaskListParams(data={"status": "everything"})

    assert first.is_valid() and not second.is_valid()
    assert first.validated_data == {"status": "pending", "ordering": "-priority"}
    assert set(second.errors) == {"status"}
    assert TaskListParams(data={}).is_valid()
