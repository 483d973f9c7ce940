"""A task's shape is declared once: a field added to the model (with its column, which a migration
would add) and to TaskSerializer.Meta.fields reaches the REST API, the OpenAPI schema, the
assistant's tools and MCP, with nothing else changed. Everything else is derived from those two.

The field is added at run time, and taken away after, with every shape derived from it, so that
the tests after these see the task as it is."""

import json
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from django.db import connection, models
from drf_spectacular.plumbing import get_override
from rest_framework import serializers

from accounts.tokens import mint_jwt
from agents.tools import TOOLS, built_schemas, run_tool
from ironclad import sql
from ironclad.schema_view import forget_schemas
from todos.models import Task
from todos.serializers import TaskFieldsField, TaskSerializer, representation_plan

NEW = "estimate_minutes"


def forget_derived_shapes() -> None:
    """Clear every shape derived from the model or the serializer and kept once made."""
    sql.row_type.cache_clear()  # the list's records
    sql._readers.cache_clear()  # their columns' converters
    sql.columns.cache_clear()  # the SELECT lists of hand-written queries (the list's, the locks')
    if "_fields_template" in vars(TaskSerializer):  # ironclad.serializers.ModelSerializer's fields, per class
        del TaskSerializer._fields_template
    representation_plan.cache_clear()  # the fast representation
    built_schemas.cache_clear()  # the tools' schemas
    # The bulk update's `fields` is described by a TaskSerializer instance, whose fields it keeps.
    vars(get_override(TaskFieldsField, "field")).pop("fields", None)
    forget_schemas()  # the OpenAPI schema each worker generates once


@pytest.fixture
def new_field(transactional_db, monkeypatch) -> Iterator[models.Field]:
    """A nullable whole number added to tasks: the model's field, its column, and its name in
    TaskSerializer.Meta.fields. Everything is undone afterwards, also when a step failed."""
    field = models.IntegerField(null=True, blank=True, help_text="Minutes it should take.")
    with ExitStack() as undo:
        undo.callback(forget_derived_shapes)
        undo.callback(monkeypatch.undo)

        Task.add_to_class(NEW, field)

        @undo.callback
        def remove_the_field() -> None:
            Task._meta.local_fields.remove(field)
            Task._meta._expire_cache()  # type: ignore[attr-defined]  # as Options.add_field does
            delattr(Task, NEW)

        with connection.schema_editor() as editor:
            editor.add_field(Task, field)

        @undo.callback
        def drop_the_column() -> None:
            with connection.schema_editor() as editor:
                editor.remove_field(Task, field)

        monkeypatch.setattr(TaskSerializer.Meta, "fields", [*TaskSerializer.Meta.fields, NEW])
        forget_derived_shapes()
        yield field


def rpc(client, token: str, method: str, params: dict | None = None) -> dict:
    response = client.post(
        "/mcp",
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}),
        content_type="application/json",
        HTTP_ACCEPT="application/json, text/event-stream",
        HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    return response.json()["result"]


def test_a_field_in_the_model_and_meta_fields_reaches_everything(new_field, alice_client, user, client):
    # REST: written, read back one by one and in the list (hand-written SQL into records).
    created = alice_client.post("/api/tasks", {"title": "Estimated", NEW: 25}, format="json")
    assert created.status_code == 201, created.content
    task_id = created.json()["data"]["id"]
    assert created.json()["data"][NEW] == 25
    assert alice_client.get(f"/api/tasks/{task_id}").json()["data"][NEW] == 25
    assert alice_client.patch(f"/api/tasks/{task_id}", {NEW: 40}, format="json").json()["data"][NEW] == 40
    listed = alice_client.get("/api/tasks").json()["data"]
    assert [(task["id"], task[NEW]) for task in listed] == [(task_id, 40)]
    assert alice_client.post("/api/tasks", {"title": "x", NEW: "soon"}, format="json").status_code == 400
    task = Task.objects.get(pk=task_id)
    generic = serializers.ModelSerializer.to_representation(TaskSerializer(), task)
    assert TaskSerializer().to_representation(task) == generic

    # OpenAPI: the task, and the bulk update's fields.
    components = alice_client.get("/api/schema?format=json").json()["components"]["schemas"]
    assert components["Task"]["properties"][NEW]["type"] == "integer"
    assert components["Task"]["properties"][NEW]["description"] == "Minutes it should take."
    assert components["PatchedTask"]["properties"][NEW]["type"] == "integer"

    # The assistant's tools: written by add_task and update_task, listed by list_tasks.
    for name in ("add_task", "update_task"):
        assert TOOLS[name].parameters["properties"][NEW]["type"] == ["integer", "null"], name
    added = run_tool(user, "add_task", {"title": "By the assistant", NEW: 15})
    assert Task.objects.get(pk=added["task_id"]).estimate_minutes == 15
    assert run_tool(user, "update_task", {"task_id": added["task_id"], NEW: None})["status"] == "updated"
    assert Task.objects.get(pk=added["task_id"]).estimate_minutes is None
    assert run_tool(user, "add_task", {"title": "x", NEW: "soon"})["details"] == {
        NEW: ["Must be a whole number or null."]  # the tool's schema's types
    }
    assert {task["title"]: task[NEW] for task in run_tool(user, "list_tasks", {})} == {
        "Estimated": 40,
        "By the assistant": None,
    }
    items = TOOLS["list_tasks"].result_schema["properties"]["tasks"]["items"]
    assert NEW in items["properties"] and NEW in items["required"]

    # MCP: the tools as an agent lists and calls them over /mcp.
    token = mint_jwt(user)
    tools = {tool["name"]: tool for tool in rpc(client, token, "tools/list")["tools"]}
    assert tools["add_task"]["inputSchema"]["properties"][NEW]["type"] == ["integer", "null"]
    assert tools["update_task"]["inputSchema"]["properties"][NEW]["type"] == ["integer", "null"]
    assert NEW in tools["list_tasks"]["outputSchema"]["properties"]["tasks"]["items"]["properties"]
    called = rpc(client, token, "tools/call", {"name": "add_task", "arguments": {"title": "By MCP", NEW: 5}})
    assert not called.get("isError"), called
    assert Task.objects.get(pk=called["structuredContent"]["task_id"]).estimate_minutes == 5
    listing = rpc(client, token, "tools/call", {"name": "list_tasks", "arguments": {}})
    assert [task[NEW] for task in listing["structuredContent"]["tasks"]] == [40, None, 5]


def test_afterwards_tasks_are_as_they_were(transactional_db, alice_client, user):
    """The field, its column and every shape derived from it are gone (this test runs after the
    one above, in the order of this file)."""
    assert NEW not in [field.name for field in Task._meta.get_fields()]
    assert not hasattr(Task, NEW)
    with connection.cursor() as cursor:
        columns = [column.name for column in connection.introspection.get_table_description(cursor, "task")]
    assert NEW not in columns
    assert NEW not in TaskSerializer.Meta.fields and NEW not in TaskSerializer().fields
    assert NEW not in representation_plan(TaskSerializer).names
    assert NEW not in TOOLS["add_task"].parameters["properties"]
    alice_client.post("/api/tasks", {"title": "Plain"}, format="json")
    assert NEW not in alice_client.get("/api/tasks").json()["data"][0]
    assert NEW not in run_tool(user, "list_tasks", {})[0]
    components = alice_client.get("/api/schema?format=json").json()["components"]["schemas"]
    assert NEW not in components["Task"]["properties"] and NEW not in components["PatchedTask"]["properties"]
