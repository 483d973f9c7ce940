from datetime import UTC, datetime

from rest_framework import serializers

from todos.serializers import TaskSerializer


def test_fast_representation_equals_drfs_generic_one(make_task, make_category, user, settings):
    settings.TIME_ZONE = "Europe/Paris"
    task = make_task(
        user,
        "Everything set",
        description="d",
        priority="high",
        due_date=datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
        category=make_category(user),
        tags=["a", "b"],
        recurrence="weekly",
        completed=True,
        completed_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    bare = make_task(user, "Nothing set")

    for instance in (task, bare):
        generic = serializers.ModelSerializer.to_representation(TaskSerializer(), instance)
        assert TaskSerializer().to_representation(instance) == generic
        assert list(TaskSerializer().to_representation(instance)) == TaskSerializer.Meta.fields
