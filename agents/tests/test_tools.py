"""The assistant's tools: the REST API's validation and services, for the bound user only."""

import json

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from agents.tools import TOOLS, run_tool, tool_schemas
from todos.filters import SEARCH_MAX_LENGTH
from todos.models import (
    CATEGORY_NAME_MAX_LENGTH,
    MAX_TAGS,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Category,
    Priority,
    Task,
)


class TestAddTask:
    def test_creates_for_the_bound_user(self, user, rest_etag):
        result = run_tool(user, "add_task", {"title": "  Buy milk ", "priority": "HIGH", "tags": ["a", "a"]})

        task = Task.objects.get()
        assert result == {
            "task_id": task.pk,
            "status": "created",
            "title": "Buy milk",
            "etag": rest_etag(task),
        }
        assert (task.user, task.priority, task.tags) == (user, "high", ["a"])

    def test_a_category_by_name_any_case(self, user, make_category):
        work = make_category(user, "Work")

        run_tool(user, "add_task", {"title": "x", "category": "WORK"})

        assert Task.objects.get().category == work

    def test_another_users_category_is_unknown(self, user, other_user, make_category):
        make_category(other_user, "Bob's")

        result = run_tool(user, "add_task", {"title": "x", "category": "Bob's"})

        assert result == {"error": 'You have no category named "Bob\'s". list_categories shows yours.'}
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"title": ""},
            {"title": "x" * 201},
            {"title": "x", "priority": "urgent"},
            {"title": "x", "due_date": "next tuesday"},
            {"title": "x", "tags": [f"t{i}" for i in range(21)]},
            {"title": "x", "recurrence": "yearly"},
        ],
    )
    def test_errors_are_those_of_the_rest_api(self, alice_client, user, body):
        rest = alice_client.post("/api/tasks", body).json()["error"]["details"]

        result = run_tool(user, "add_task", body)

        assert result["details"] == rest
        assert result["error"].startswith("The task is invalid (")
        assert not Task.objects.exists()

    def test_a_user_id_argument_is_refused(self, user, other_user):
        result = run_tool(user, "add_task", {"title": "x", "user_id": other_user.pk})

        assert result == {"error": "Unexpected arguments: user_id."}
        assert not Task.objects.exists()


class TestOtherTools:
    def test_list_is_mine_oldest_first_with_filters(self, user, other_user, make_task):
        first = make_task(user, "First", priority="high")
        make_task(user, "Second", completed=True)
        make_task(other_user, "Bob's", priority="high")

        assert [t["title"] for t in run_tool(user, "list_tasks", {})] == ["First", "Second"]
        assert [t["title"] for t in run_tool(user, "list_tasks", {"status": "pending"})] == ["First"]
        listed = run_tool(user, "list_tasks", {"priority": "high"})
        assert listed == [
            {
                "id": first.pk,
                "title": "First",
                "completed": False,
                "priority": "high",
                "due_date": None,
                "remind_at": None,
                "category_id": None,
                "tags": [],
                "recurrence": "none",
            }
        ]

    def test_list_with_a_bad_filter(self, user):
        result = run_tool(user, "list_tasks", {"status": "finished"})

        assert "status" in result["details"]

    def test_complete_delete_update(self, user, make_task, rest_etag):
        task = make_task(user, "Old")

        assert run_tool(user, "complete_task", {"task_id": task.pk}) == {
            "task_id": task.pk,
            "status": "completed",
            "title": "Old",
            "etag": rest_etag(task),
        }
        assert run_tool(user, "update_task", {"task_id": task.pk, "title": "New", "completed": False}) == {
            "task_id": task.pk,
            "status": "updated",
            "title": "New",
            "etag": rest_etag(task),
        }
        task.refresh_from_db()
        assert (task.title, task.completed) == ("New", False)
        assert run_tool(user, "delete_task", {"task_id": task.pk})["status"] == "deleted"
        assert not Task.objects.exists()

    def test_update_needs_a_change(self, user, make_task):
        task = make_task(user)

        assert "Say what to change" in run_tool(user, "update_task", {"task_id": task.pk})["error"]

    def test_update_is_validated_like_a_patch(self, alice_client, user, make_task):
        task = make_task(user, "Keep")
        rest = alice_client.patch(f"/api/tasks/{task.pk}", {"title": "", "priority": "high"}).json()

        result = run_tool(user, "update_task", {"task_id": task.pk, "title": "", "priority": "high"})

        assert result["details"] == rest["error"]["details"]
        task.refresh_from_db()
        assert (task.title, task.priority) == ("Keep", "medium")

    @pytest.mark.parametrize("name", ["complete_task", "delete_task", "update_task"])
    def test_another_users_task_is_not_found(self, user, other_user, make_task, name):
        bobs = make_task(other_user, "Bob's")
        arguments = {"task_id": bobs.pk, **({"title": "hacked"} if name == "update_task" else {})}

        assert run_tool(user, name, arguments) == {"error": f"Task {bobs.pk} was not found among your tasks."}
        bobs.refresh_from_db()
        assert (bobs.title, bobs.completed) == ("Bob's", False)

    @pytest.mark.parametrize(
        "sent",
        [str, lambda pk: pk + 0.5, lambda pk: [pk], lambda pk: "abc", lambda pk: None, lambda pk: True],
    )
    def test_a_task_id_that_is_not_an_integer_is_refused_as_rest_refuses_it(self, user, make_task, sent):
        task = make_task(user)

        result = run_tool(user, "complete_task", {"task_id": sent(task.pk)})

        assert result == {
            "error": "The arguments are invalid (task_id: Must be a whole number.).",
            "details": {"task_id": ["Must be a whole number."]},
        }
        assert not Task.objects.filter(completed=True).exists()

    @pytest.mark.parametrize("task_id", [-1, 0, 1.0 + 2**63, 999])
    def test_an_integer_that_is_no_task_of_yours_is_not_found(self, user, make_task, task_id):
        make_task(user)

        assert "was not found" in run_tool(user, "complete_task", {"task_id": task_id})["error"]
        assert not Task.objects.filter(completed=True).exists()

    def test_every_argument_is_checked_against_the_tools_schema(self, user, make_task):
        task = make_task(user, "Kept")

        result = run_tool(
            user, "update_task", {"task_id": task.pk, "title": 5, "tags": ["a", 1], "completed": "yes"}
        )

        assert result["details"] == {
            "completed": ["Must be true or false."],
            "tags.1": ["Must be a string."],
            "title": ["Must be a string."],
        }
        task.refresh_from_db()
        assert (task.title, task.tags, task.completed) == ("Kept", [], False)


class TestListFilters:
    def test_a_category_by_name_a_tag_and_a_due_range(self, user, other_user, make_task, make_category):
        work = make_category(user, "Work")
        make_category(other_user, "Play")
        make_task(user, "Filed", category=work, tags=["q4"], due_date="2026-12-02T10:00:00Z")
        make_task(user, "Loose", tags=["q4"], due_date="2026-12-20T10:00:00Z")

        def titles(**arguments):
            return [task["title"] for task in run_tool(user, "list_tasks", arguments)]

        assert titles(category="work") == ["Filed"]
        assert titles(tag="q4") == ["Filed", "Loose"]
        assert titles(due_after="2026-12-02", due_before="2026-12-02") == ["Filed"]
        assert titles(due_after="2026-12-03") == ["Loose"]
        assert titles(ordering="-due_date") == ["Loose", "Filed"]
        assert run_tool(user, "list_tasks", {"category": "Play"}) == {
            "error": "You have no category named 'Play'. list_categories shows yours."
        }

    def test_bad_filters_are_explained(self, user):
        result = run_tool(user, "list_tasks", {"status": "someday", "due_before": "soon"})

        assert result["error"].startswith("The filter is invalid (status: ")
        assert set(result["details"]) == {"status", "due_before"}


class TestCategoryTools:
    def test_list_is_mine_by_name(self, user, other_user, make_category):
        home = make_category(user, "home")
        work = make_category(user, "Work", color="#112233")
        make_category(other_user, "Bob's")

        assert run_tool(user, "list_categories", {}) == [
            {"id": home.pk, "name": "home", "color": None},
            {"id": work.pk, "name": "Work", "color": "#112233"},
        ]

    def test_add_then_file_a_task_there_by_name(self, user, make_task, rest_etag):
        task = make_task(user, "Report")

        added = run_tool(user, "add_category", {"name": "Work", "color": "#AABBCC"})
        updated = run_tool(user, "update_task", {"task_id": task.pk, "category": "work"})

        category = Category.objects.get()
        assert added == {
            "category_id": category.pk,
            "status": "created",
            "name": "Work",
            "etag": rest_etag(category),
        }
        assert (category.user, category.color) == (user, "#aabbcc")
        assert updated["status"] == "updated"
        task.refresh_from_db()
        assert task.category == category
        run_tool(user, "update_task", {"task_id": task.pk, "category": None})
        task.refresh_from_db()
        assert task.category is None

    def test_a_taken_name_or_a_bad_colour_is_refused(self, user, make_category):
        make_category(user, "Work")

        assert run_tool(user, "add_category", {"name": "WORK"}) == {
            "error": "You already have a category named 'WORK'."
        }
        result = run_tool(user, "add_category", {"name": "Play", "color": "red"})
        assert result["details"] == {"color": ["Use a colour of the form #rrggbb."]}
        assert Category.objects.count() == 1


class TestCalls:
    def test_text_a_database_cannot_store_is_refused(self, user):
        result = run_tool(user, "list_tasks", {"category": "Wo\x00rk"})

        assert result == {
            "error": "The arguments are invalid: the object holds a text that contains a NUL character "
            "(\\u0000), which is not accepted."
        }

    def test_unknown_tool(self, user):
        assert run_tool(user, "drop_database", {}) == {"error": "There is no tool named 'drop_database'."}

    def test_arguments_must_be_an_object(self, user):
        assert run_tool(user, "list_tasks", ["pending"]) == {"error": "The arguments must be a JSON object."}

    def test_missing_arguments(self, user):
        assert run_tool(user, "delete_task", {}) == {"error": "Missing arguments: task_id."}

    def test_schemas_are_openai_function_tools(self):
        assert [schema["function"]["name"] for schema in tool_schemas()] == [
            "add_task",
            "list_tasks",
            "complete_task",
            "delete_task",
            "update_task",
            "list_categories",
            "add_category",
        ]
        for schema in tool_schemas():
            assert schema["type"] == "function"
            parameters = schema["function"]["parameters"]
            assert parameters["type"] == "object"
            assert parameters["additionalProperties"] is False
            assert "user_id" not in parameters["properties"]
            assert set(parameters.get("required", [])) <= set(parameters["properties"])
        assert set(TOOLS) == {schema["function"]["name"] for schema in tool_schemas()}


class TestSchemas:
    """The tools' schemas come from the REST API's serializers, as JSON Schema 2020-12."""

    def test_every_schema_is_json_schema_2020_12(self):
        for tool in TOOLS.values():
            for schema in (tool.parameters, tool.result_schema):
                Draft202012Validator.check_schema(schema)
                text = json.dumps(schema)
                for openapi_only in ('"nullable"', '"readOnly"', '"writeOnly"', '"example"', '"x-'):
                    assert openapi_only not in text, (tool.name, openapi_only)

    def test_limits_and_choices_are_those_the_rest_api_enforces(self):
        add_task = TOOLS["add_task"].parameters["properties"]
        add_category = TOOLS["add_category"].parameters["properties"]
        filters = TOOLS["list_tasks"].parameters["properties"]

        assert add_task["title"]["maxLength"] == TITLE_MAX_LENGTH
        assert (add_task["tags"]["maxItems"], add_task["tags"]["items"]["maxLength"]) == (
            MAX_TAGS,
            TAG_MAX_LENGTH,
        )
        assert add_task["priority"]["enum"] == Priority.values
        assert add_category["name"]["maxLength"] == CATEGORY_NAME_MAX_LENGTH == 50
        assert add_task["category"]["maxLength"] == filters["category"]["maxLength"] == 50
        assert add_task["category"]["type"] == ["string", "null"]
        assert add_task["due_date"]["type"] == ["string", "null"]  # also said outside its anyOf
        assert filters["search"]["maxLength"] == SEARCH_MAX_LENGTH
        assert filters["tag"]["maxLength"] == TAG_MAX_LENGTH

    def test_a_name_too_long_for_the_rest_api_is_too_long_here(self, alice_client, user):
        rest = alice_client.post("/api/categories", {"name": "x" * 51}).json()["error"]["details"]

        assert run_tool(user, "add_category", {"name": "x" * 51})["details"] == rest
        assert not Category.objects.exists()

    def test_results_are_valid_against_their_schemas(self, user, make_category):
        make_category(user, "Home", color="#112233")
        added = run_tool(user, "add_task", {"title": "x", "category": "home", "due_date": "2026-12-01"})
        results = {
            "add_task": added,
            "list_tasks": {"tasks": run_tool(user, "list_tasks", {})},
            "update_task": run_tool(user, "update_task", {"task_id": added["task_id"], "tags": ["a"]}),
            "complete_task": run_tool(user, "complete_task", {"task_id": added["task_id"]}),
            "list_categories": {"categories": run_tool(user, "list_categories", {})},
            "add_category": run_tool(user, "add_category", {"name": "Work"}),
            "delete_task": run_tool(user, "delete_task", {"task_id": added["task_id"]}),
        }

        for name, result in results.items():
            Draft202012Validator(TOOLS[name].result_schema, format_checker=FormatChecker()).validate(result)
