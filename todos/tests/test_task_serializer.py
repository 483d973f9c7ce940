from datetime import UTC, datetime

from rest_framework import serializers

from todos.serializers import TaskSerializer, representation_plan


def test_fast_representation_equals_drfs_generic_one(make_task, make_category, user, settings):
    settings.TIME_ZONE = "Europe/Paris"
    earlier = make_task(user, "The one before")
    task = make_task(
        user,
        "Everything set",
        description="d",
        priority="high",
        due_date=datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
        remind_at=datetime(2026, 11, 30, 7, 45, tzinfo=UTC),
        category=make_category(user),
        tags=["a", "b"],
        recurrence="weekly",
        completed=True,
        completed_at=datetime(2026, 11, 30, tzinfo=UTC),
        previous_occurrence=earlier,
    )
    bare = make_task(user, "Nothing set")

    for instance in (task, bare):
        generic = serializers.ModelSerializer.to_representation(TaskSerializer(), instance)
        assert TaskSerializer().to_representation(instance) == generic
        assert list(TaskSerializer().to_representation(instance)) == TaskSerializer.Meta.fields


def test_the_plan_renders_every_field_from_its_column():
    plan = representation_plan(TaskSerializer)

    assert plan.names == TaskSerializer.Meta.fields
    assert dict(zip(plan.names, plan.attributes, strict=True))["category_id"] == "category_id"
    assert set(plan.converters) == {"due_date", "remind_at", "completed_at", "created_at", "updated_at"}
