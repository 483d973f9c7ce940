"""Every field of a task is shown, or explicitly left out, in each place that handles tasks field by
field: the REST API, the task list's SQL, the assistant's tools, a recurring task's next occurrence
and the admin. A field added to the model, or to one of these places only, fails here with the
place named. docs/development.md has the checklist for adding a field."""

from datetime import UTC, datetime

import pytest

from agents.tools import NOT_LISTED_FIELDS, TOOLS, run_tool
from todos.admin import TaskAdmin
from todos.models import Task
from todos.selectors import TaskFilters, task_page
from todos.serializers import TaskSerializer
from todos.services import CARRIED_TO_NEXT_OCCURRENCE, NOT_CARRIED_TO_NEXT_OCCURRENCE

# Every field by its attribute name, which is also its name in the API (`category_id`).
TASK_FIELDS = [field.attname for field in Task._meta.concrete_fields]
# Tool arguments name a task's category, not its id.
TOOL_ARGUMENT_NAMES = {"category": "category_id"}


@pytest.fixture
def task(make_task, make_category, user):
    """An open task whose every other field differs from its default."""
    return make_task(
        user,
        "Water the plants",
        description="The ones on the balcony.",
        priority="high",
        due_date=datetime(2026, 12, 1, 9, tzinfo=UTC),
        remind_at=datetime(2026, 12, 1, 8, tzinfo=UTC),
        category=make_category(user, "Home"),
        tags=["home", "weekly"],
        recurrence="weekly",
    )


def test_the_api_shows_every_field(alice_client, task):
    shown = alice_client.get(f"/api/tasks/{task.pk}").json()["data"]
    listed = alice_client.get("/api/tasks").json()["data"][0]

    missing = set(TASK_FIELDS) - set(shown)
    assert not missing, f"add {missing} to TaskSerializer.Meta.fields"
    assert list(shown) == list(listed) == TaskSerializer.Meta.fields


def test_the_list_query_reads_every_field(task, user):
    records, _total = task_page(user, TaskFilters(), offset=0, limit=1)

    assert list(records[0]._fields) == TASK_FIELDS
    assert [getattr(records[0], name) for name in TASK_FIELDS] == [
        getattr(task, name) for name in TASK_FIELDS
    ]


def test_the_tools_list_every_field_but_those_left_out_on_purpose(task, user):
    listed = run_tool(user, "list_tasks", {})[0]

    stale = NOT_LISTED_FIELDS - set(TaskSerializer.Meta.fields)
    assert not stale, f"remove {stale} from agents.tools NOT_LISTED_FIELDS"
    expected = [name for name in TaskSerializer.Meta.fields if name not in NOT_LISTED_FIELDS]
    assert list(listed) == expected
    assert list(TOOLS["list_tasks"].result_schema["properties"]["tasks"]["items"]["properties"]) == expected


def test_the_tools_write_every_field_the_api_writes():
    writable = {field.field_name for field in TaskSerializer()._writable_fields}
    for name in ("add_task", "update_task"):
        arguments = set(TOOLS[name].parameters["properties"]) - {"task_id"}
        written = {TOOL_ARGUMENT_NAMES.get(argument, argument) for argument in arguments}
        if name == "add_task":  # a new task is open; update_task reopens or completes
            written.add("completed")
        assert written == writable, f"{name}: {writable - written} missing from agents.tools' arguments"


def test_the_next_occurrence_takes_over_every_field_but_those_it_sets_afresh(alice_client, task):
    response = alice_client.patch(f"/api/tasks/{task.pk}/complete")
    next_task = Task.objects.get(pk=response.json()["meta"]["next_occurrence"]["id"])

    task.refresh_from_db()
    for name in CARRIED_TO_NEXT_OCCURRENCE:
        assert getattr(next_task, name) == getattr(task, name), name
    for name in NOT_CARRIED_TO_NEXT_OCCURRENCE:
        assert getattr(next_task, name) != getattr(task, name), f"{name} is carried over after all"


def test_the_admin_shows_every_field_or_excludes_it(operator_client, task):
    page = operator_client.get(f"/admin/todos/task/{task.pk}/change/").content.decode()

    excluded = set(TaskAdmin.exclude or ())
    names = [field.name for field in Task._meta.concrete_fields if field.name not in excluded]
    missing = [name for name in names if f"field-{name}" not in page]
    assert not missing, f"show {missing} in the admin's task form, or add them to TaskAdmin.exclude"
