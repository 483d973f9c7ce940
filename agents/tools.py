"""The task tools: thin adapters over todos.services, validated as the REST API validates.

One registry (`TOOLS`) serves the chat assistant (chat.offline, chat.openai_provider) and the MCP
server (agents.mcp_server): adding a tool here adds it to both. Every tool acts for the user the
server binds (`run_tool(user, ...)`), never for one named in the arguments. Results follow the
tool contract docs/chat.md shows: `{"task_id", "status", "title", "etag"}` for a write, a list of tasks
for `list_tasks`, and `{"error": ...}` when a task is not the user's or the input is invalid.
"""

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from django.core.exceptions import ObjectDoesNotExist, ObjectNotUpdated
from django.db.models.functions import Lower
from jsonschema import Draft202012Validator, validators
from rest_framework import serializers

from accounts.models import User
from ironclad.conditional import etag_of
from ironclad.exceptions import Conflict, QuotaExceeded
from ironclad.transactions import run_in_transaction
from ironclad.untrusted import UntrustedInputError, bounded, check_json, clip, whole_number
from todos import services
from todos.filters import SEARCH_MAX_LENGTH, TaskListParams
from todos.models import Category, Priority, Recurrence, Task
from todos.selectors import ORDERABLE_FIELDS, task_page
from todos.serializers import CategorySerializer, TaskSerializer

LIST_LIMIT = 50
# A listed task, as the assistant reads it: the REST API's task without these fields, which would
# only lengthen what a language model must read.
LISTED_FIELDS = ("id", "title", "completed", "priority", "due_date", "category_id", "tags", "recurrence")
NOT_LISTED_FIELDS = (
    "description",
    "previous_occurrence_id",
    "completed_at",
    "created_at",
    "updated_at",
    "user_id",
)

ToolResult = dict[str, Any] | list[dict[str, Any]]

# JSON Schema's type checks only (with the keywords that reach nested values): what a tool's
# argument must be, not what values it takes, which the serializers say as the REST API does.
JSONTypes = validators.create(
    meta_schema=Draft202012Validator.META_SCHEMA,
    validators={
        keyword: check
        for keyword, check in Draft202012Validator.VALIDATORS.items()
        if keyword in ("type", "properties", "items")
    },
    type_checker=Draft202012Validator.TYPE_CHECKER,
)
_TYPE_NAMES = {
    "integer": "a whole number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def _type_message(expected: str | list[str]) -> str:
    names = [_TYPE_NAMES.get(name, name) for name in ([expected] if isinstance(expected, str) else expected)]
    return f"Must be {' or '.join(names)}."


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments
    function: Callable[..., ToolResult]
    # JSON Schema of a result: an object. A tool whose result is a list declares the object MCP
    # sends it in, `{list_key: [...]}`, since MCP's structured results are objects.
    result_schema: dict[str, Any]
    list_key: str | None = None
    # What a client may assume (MCP's tool annotations): a read-only tool changes nothing; a
    # destructive one may lose what the user wrote (overwrite or delete it); an idempotent one has
    # no further effect when called again with the same arguments.
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False

    @functools.cached_property
    def _type_checker(self) -> Any:
        return JSONTypes(self.parameters)

    def type_errors(self, arguments: dict[str, Any]) -> dict[str, list[str]]:
        """Per argument, where it is not of the JSON type the tool's schema gives it (a task_id
        "1" where an integer goes), as the REST API refuses a body whose values are not of its
        schema's types (ironclad.serializers.json_type_error). Values are then validated by the same
        serializers as the REST API's, with its messages."""
        errors = sorted(self._type_checker.iter_errors(arguments), key=lambda error: list(error.path))
        by_argument: dict[str, list[str]] = {}
        for error in errors:
            name = ".".join(map(str, error.path)) or "arguments"
            by_argument.setdefault(clip(name), []).append(_type_message(error.validator_value))
        return cast(dict[str, list[str]], bounded(by_argument))

    def schema(self) -> dict[str, Any]:
        """The tool as an OpenAI function tool."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


class ToolError(Exception):
    """A call the tool refuses; `run_tool` answers it as {"error": message, "details"?: ...}."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details

    def as_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"error": str(self)}
        if self.details is not None:
            result["details"] = self.details
        return result


def _validated(serializer: serializers.Serializer[Any], what: str) -> dict[str, Any]:
    if serializer.is_valid():
        return dict(serializer.validated_data)
    details = bounded(json.loads(json.dumps(serializer.errors)))  # ErrorDetail and ReturnDict as plain JSON
    reasons = "; ".join(f"{field}: {' '.join(_messages(messages))}" for field, messages in details.items())
    raise ToolError(f"The {what} is invalid ({reasons}).", details)


def _messages(errors: Any) -> list[str]:
    """The messages in a field's errors, also those of a list's items ({"0": ["..."]})."""
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in _messages(value)]
    if isinstance(errors, list):
        return [message for value in errors for message in _messages(value)]
    return [str(errors)]


def _own_task(user: User, task_id: Any) -> Task:
    number = whole_number(task_id, 1)  # an integer, as the tool's schema says (run_tool checks)
    task = Task.objects.for_user(user).filter(pk=number).first() if number is not None else None
    if task is None:
        raise ToolError(f"Task {clip(task_id)} was not found among your tasks.")
    return task


def _own_category_id(user: User, name: Any) -> int:
    category = Category.objects.for_user(user).filter(name__iexact=str(name).strip()).first()
    if category is None:
        raise ToolError(f"You have no category named {clip(name)!r}. list_categories shows yours.")
    return category.pk


def _task_body(user: User, arguments: dict[str, Any]) -> dict[str, Any]:
    """Tool arguments as the REST API's task body: a category is named here, the API takes its id."""
    body = dict(arguments)
    if "category" in body:
        name = body.pop("category")
        body["category_id"] = None if name in (None, "") else _own_category_id(user, name)
    return body


def _written(task: Task, status: str) -> dict[str, Any]:
    """A write's result. Unless the task was deleted, it has the task's new ETag, the one the REST
    API gives (an agent may send it in If-Match there)."""
    result = {"task_id": task.pk, "status": status, "title": task.title}
    if status != "deleted":
        result["etag"] = etag_of(TaskSerializer().to_representation(task))
    return result


def add_task(user: User, **arguments: Any) -> dict[str, Any]:
    serializer = TaskSerializer(data=_task_body(user, arguments), context={"user": user})
    return _written(services.task_create(user=user, **_validated(serializer, "task")), "created")


def list_tasks(user: User, **arguments: Any) -> list[dict[str, Any]]:
    query = {"ordering": "created_at", **arguments}
    if query.get("category") not in (None, ""):
        query["category"] = _own_category_id(user, query["category"])
    params = TaskListParams(data=query)
    _validated(params, "filter")
    tasks, _total = task_page(user, params.filters, offset=0, limit=LIST_LIMIT)
    listed = []
    for task in tasks:
        representation = TaskSerializer().to_representation(task)
        listed.append({field: representation[field] for field in LISTED_FIELDS})
    return listed


def complete_task(user: User, *, task_id: Any) -> dict[str, Any]:
    task, next_task = services.task_set_completed(task=_own_task(user, task_id), completed=True)
    result = _written(task, "completed")
    if next_task is not None:
        result["next_task_id"] = next_task.pk
    return result


def delete_task(user: User, *, task_id: Any) -> dict[str, Any]:
    task = _own_task(user, task_id)
    result = _written(task, "deleted")
    services.task_delete(task=task)
    return result


def update_task(user: User, *, task_id: Any, **changes: Any) -> dict[str, Any]:
    task = _own_task(user, task_id)
    if not changes:
        raise ToolError(f"Say what to change: {', '.join(_TASK_FIELDS)} or completed.")
    serializer = TaskSerializer(task, data=_task_body(user, changes), partial=True, context={"user": user})
    updated, _next_task = services.task_update(task=task, **_validated(serializer, "task"))
    return _written(updated, "updated")


def list_categories(user: User) -> list[dict[str, Any]]:
    categories = Category.objects.for_user(user).order_by(Lower("name"), "pk")
    return [{"id": category.pk, "name": category.name, "color": category.color} for category in categories]


def add_category(user: User, **arguments: Any) -> dict[str, Any]:
    serializer = CategorySerializer(data=arguments, context={"user": user})
    try:
        _validated(serializer, "category")
    except Conflict:  # the name is taken, in any case
        raise ToolError(f"You already have a category named {clip(arguments['name'])!r}.") from None
    category = services.category_create(user=user, **serializer.validated_data)  # as the REST API does
    etag = etag_of(CategorySerializer(category).data)
    return {"category_id": category.pk, "status": "created", "name": category.name, "etag": etag}


_TASK_ID = {"type": "integer", "description": "The task's id, as list_tasks shows it."}
_CATEGORY_NAME = {"type": "string", "description": "The name of one of the user's categories, any case."}
# A task's fields as tool arguments: the REST API's writable fields, but a category goes by its name.
_TASK_FIELDS = {
    "title": {"type": "string", "description": "1-200 characters."},
    "description": {"type": "string", "description": "Up to 5000 characters."},
    "priority": {"type": "string", "enum": Priority.values},
    "due_date": {
        "type": ["string", "null"],
        "description": "ISO 8601 date or date-time, e.g. 2026-12-01 or 2026-12-01T17:00:00+01:00.",
    },
    "category": {
        **_CATEGORY_NAME,
        "type": ["string", "null"],
        "description": _CATEGORY_NAME["description"] + " null: none.",
    },
    "tags": {"type": "array", "items": {"type": "string"}, "description": "Up to 20 distinct tags."},
    "recurrence": {"type": "string", "enum": Recurrence.values},
}
_TASK_FILTERS = {
    "status": {"type": "string", "enum": ["all", "pending", "completed"], "description": "Default: all."},
    "priority": {"type": "string", "enum": Priority.values},
    "category": _CATEGORY_NAME,
    "tag": {"type": "string", "description": "Tasks with this tag."},
    "search": {
        "type": "string",
        "maxLength": SEARCH_MAX_LENGTH,
        "description": "Text in the title or description, any case; at least 3 letters or digits in a row.",
    },
    "due_after": {"type": "string", "description": "Due at or after (ISO 8601; a date: from its start)."},
    "due_before": {"type": "string", "description": "Due at or before (ISO 8601; a date: by its end)."},
    "overdue": {"type": "boolean", "description": "true: open tasks past their due date."},
    "ordering": {
        "type": "string",
        "enum": [*ORDERABLE_FIELDS, *(f"-{field}" for field in ORDERABLE_FIELDS)],
        "description": "Default created_at (oldest first); '-' for descending; priority sorts high first.",
    },
}


def _arguments(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    """A tool's JSON schema: an object with these properties and no others."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _object_schema(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A result's JSON schema: an object with these properties, all present but `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


_ETAG = {"type": "string", "description": "The object's ETag, as the REST API's ETag header gives it."}


def _written_result(status: str, **extra: Any) -> dict[str, Any]:
    etag = {} if status == "deleted" else {"etag": _ETAG}
    return _object_schema(
        {
            "task_id": {"type": "integer"},
            "status": {"const": status},
            "title": {"type": "string"},
            **etag,
            **extra,
        },
        optional=tuple(extra),
    )


def _listed_as(key: str, items: dict[str, Any]) -> dict[str, Any]:
    """A listing tool's result: its list, sent to MCP clients as the object {key: [...]}."""
    return {"result_schema": _object_schema({key: {"type": "array", "items": items}}), "list_key": key}


_NULLABLE_STRING = {"type": ["string", "null"]}
_LISTED_TASK = _object_schema(
    {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "completed": {"type": "boolean"},
        "priority": {"type": "string", "enum": Priority.values},
        "due_date": {**_NULLABLE_STRING, "description": "ISO 8601 date-time."},
        "category_id": {"type": ["integer", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "recurrence": {"type": "string", "enum": Recurrence.values},
    }
)
_LISTED_CATEGORY = _object_schema(
    {"id": {"type": "integer"}, "name": {"type": "string"}, "color": _NULLABLE_STRING}
)

TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            name="add_task",
            description="Create a task for the user. Name a category to file it there.",
            parameters=_arguments(_TASK_FIELDS, required=["title"]),
            function=add_task,
            result_schema=_written_result("created"),
        ),
        Tool(
            name="list_tasks",
            description=f"List the user's tasks, oldest first (at most {LIST_LIMIT}); the filters narrow it.",
            parameters=_arguments(_TASK_FILTERS),
            function=list_tasks,
            **_listed_as("tasks", _LISTED_TASK),
            read_only=True,
        ),
        Tool(
            name="complete_task",
            description=(
                "Mark one of the user's tasks as done. A recurring task's next occurrence is created "
                "once (next_task_id); completing it again changes nothing."
            ),
            parameters=_arguments({"task_id": _TASK_ID}, required=["task_id"]),
            function=complete_task,
            result_schema=_written_result("completed", next_task_id={"type": "integer"}),
            idempotent=True,
        ),
        Tool(
            name="delete_task",
            description="Delete one of the user's tasks, for good.",
            parameters=_arguments({"task_id": _TASK_ID}, required=["task_id"]),
            function=delete_task,
            result_schema=_written_result("deleted"),
            destructive=True,
            idempotent=True,
        ),
        Tool(
            name="update_task",
            description=(
                "Change fields of one of the user's tasks: category sets its category by name (null: "
                "none); completed=false reopens it."
            ),
            parameters=_arguments(
                {"task_id": _TASK_ID, **_TASK_FIELDS, "completed": {"type": "boolean"}}, required=["task_id"]
            ),
            function=update_task,
            result_schema=_written_result("updated"),
            destructive=True,
            idempotent=True,
        ),
        Tool(
            name="list_categories",
            description="List the user's categories, by name.",
            parameters=_arguments({}),
            function=list_categories,
            **_listed_as("categories", _LISTED_CATEGORY),
            read_only=True,
        ),
        Tool(
            name="add_category",
            description="Create a category for the user; names are unique in any case.",
            parameters=_arguments(
                {
                    "name": {"type": "string", "description": "1-100 characters."},
                    "color": {**_NULLABLE_STRING, "description": "A colour of the form #rrggbb."},
                },
                required=["name"],
            ),
            function=add_category,
            result_schema=_object_schema(
                {
                    "category_id": {"type": "integer"},
                    "status": {"const": "created"},
                    "name": {"type": "string"},
                    "etag": _ETAG,
                }
            ),
        ),
    )
}

TOOL_SCHEMAS = [tool.schema() for tool in TOOLS.values()]


def is_error(result: ToolResult) -> TypeGuard[dict[str, Any]]:
    """Whether a tool's result is a refusal ({"error": ...}) rather than what the tool does."""
    return isinstance(result, dict) and "error" in result


def run_tool(user: User, name: str, arguments: Any) -> ToolResult:
    """Run a tool for `user`; whatever is wrong with the call comes back as {"error": ...}."""
    tool = TOOLS.get(name)
    if tool is None:
        return {"error": f"There is no tool named {clip(name)!r}."}
    if not isinstance(arguments, dict):
        return {"error": "The arguments must be a JSON object."}
    try:
        check_json(arguments)  # e.g. a NUL, which PostgreSQL refuses with an error
    except UntrustedInputError as error:
        return {"error": f"The arguments are invalid: the object {error}."}
    unexpected = sorted(set(arguments) - set(tool.parameters["properties"]))
    if unexpected:
        return {"error": f"Unexpected arguments: {', '.join(clip(key) for key in unexpected[:10])}."}
    missing = [key for key in tool.parameters.get("required", []) if key not in arguments]
    if missing:
        return {"error": f"Missing arguments: {', '.join(missing)}."}
    if errors := tool.type_errors(arguments):
        reasons = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
        return {"error": f"The arguments are invalid ({reasons}).", "details": errors}
    try:
        # Each call commits on its own: no transaction outlives it while a model thinks.
        return run_in_transaction(lambda: tool.function(user, **arguments))
    except ToolError as error:
        return error.as_result()
    except QuotaExceeded as error:
        return {"error": str(error.detail), "details": error.details}
    except (ObjectDoesNotExist, ObjectNotUpdated):  # found, then deleted by a concurrent request
        return {"error": "It was deleted while this call ran; list again to see what is left."}
