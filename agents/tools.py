"""The task tools: thin adapters over todos.services, validated as the REST API validates.

One registry (`TOOLS`) serves the chat assistant (chat.offline, chat.openai_provider) and the MCP
server (agents.mcp_server): adding a tool here adds it to both. Every tool acts for the user the
server binds (`run_tool(user, ...)`), never for one named in the arguments. Results follow the
tool contract docs/chat.md shows: `{"task_id", "status", "title", "etag"}` for a write, a list of tasks
for `list_tasks`, and `{"error": ...}` when a task is not the user's or the input is invalid.

A tool's JSON Schemas are derived from the serializers it validates with, as drf-spectacular
describes them for the OpenAPI schema (ironclad.openapi.json_schema): a task's arguments are
TaskSerializer's writable fields, a listed task its fields but NOT_LISTED_FIELDS. What is declared
here is only what the tools decide for themselves: a category goes by its name, what they leave
out, and texts for the language model.
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
from ironclad.openapi import json_schema
from ironclad.transactions import run_in_transaction
from ironclad.untrusted import UntrustedInputError, bounded, check_json, clip, whole_number
from todos import services
from todos.filters import TaskListParams
from todos.models import Category, Task
from todos.selectors import task_page
from todos.serializers import CategorySerializer, TaskSerializer

LIST_LIMIT = 50
# A listed task, as the assistant reads it: the REST API's task without these fields, which would
# only lengthen what a language model must read. Any other field, a new one too, is listed.
NOT_LISTED_FIELDS = frozenset(
    {"description", "previous_occurrence_id", "completed_at", "created_at", "updated_at", "user_id"}
)
# A listed category: these of the REST API's.
LISTED_CATEGORY_FIELDS = ("id", "name", "color")

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
    function: Callable[..., ToolResult]
    # Build its JSON Schemas, on first use (built_schemas): of its arguments, and of a result, an
    # object. A tool whose result is a list declares the object MCP sends it in,
    # `{list_key: [...]}`, since MCP's structured results are objects.
    arguments: Callable[[], dict[str, Any]]
    result: Callable[[], dict[str, Any]]
    list_key: str | None = None
    # What a client may assume (MCP's tool annotations): a read-only tool changes nothing; a
    # destructive one may lose what the user wrote (overwrite or delete it); an idempotent one has
    # no further effect when called again with the same arguments.
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False

    @property
    def parameters(self) -> dict[str, Any]:
        """JSON Schema of the arguments."""
        return built_schemas()[self.name].parameters

    @property
    def result_schema(self) -> dict[str, Any]:
        """JSON Schema of a result."""
        return built_schemas()[self.name].result

    def type_errors(self, arguments: dict[str, Any]) -> dict[str, list[str]]:
        """Per argument, where it is not of the JSON type the tool's schema gives it (a task_id
        "1" where an integer goes), as the REST API refuses a body whose values are not of its
        schema's types (ironclad.serializers.json_type_error). Values are then validated by the same
        serializers as the REST API's, with its messages."""
        checker = built_schemas()[self.name].type_checker
        errors = sorted(checker.iter_errors(arguments), key=lambda error: list(error.path))
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


@dataclass(frozen=True)
class ToolSchemas:
    parameters: dict[str, Any]
    result: dict[str, Any]
    type_checker: Any  # JSONTypes(parameters)


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
    serializer = TaskSerializer()
    return [
        {
            field: value
            for field, value in serializer.to_representation(task).items()
            if field not in NOT_LISTED_FIELDS
        }
        for task in tasks
    ]


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
        changes_named = [name for name in TOOLS["update_task"].parameters["properties"] if name != "task_id"]
        raise ToolError(f"Say what to change: {', '.join(changes_named)}.")
    serializer = TaskSerializer(task, data=_task_body(user, changes), partial=True, context={"user": user})
    updated, _next_task = services.task_update(task=task, **_validated(serializer, "task"))
    return _written(updated, "updated")


def list_categories(user: User) -> list[dict[str, Any]]:
    categories = Category.objects.for_user(user).order_by(Lower("name"), "pk")
    return [{field: getattr(category, field) for field in LISTED_CATEGORY_FIELDS} for category in categories]


def add_category(user: User, **arguments: Any) -> dict[str, Any]:
    serializer = CategorySerializer(data=arguments, context={"user": user})
    try:
        _validated(serializer, "category")
    except Conflict:  # the name is taken, in any case
        raise ToolError(f"You already have a category named {clip(arguments['name'])!r}.") from None
    category = services.category_create(user=user, **serializer.validated_data)  # as the REST API does
    etag = etag_of(CategorySerializer(category).data)
    return {"category_id": category.pk, "status": "created", "name": category.name, "etag": etag}


# --- The tools' JSON Schemas -------------------------------------------------------------------

_TASK_ID = {"type": "integer", "description": "The task's id, as list_tasks shows it."}
# Tool arguments name a category, any case, where the REST API takes its id (`category_id` of a
# task, `category` of the list's filters): the name as CategorySerializer takes one.
_CATEGORY_NAME = "The name of one of the user's categories, any case."
# A new task is open: add_task takes every writable field of a task but these.
NOT_ON_CREATE = frozenset({"completed"})
# The task list's query parameters that list_tasks leaves out: `status` says what `completed`
# does, and `sort` and `order` another way to say `ordering`.
NOT_TOOL_FILTERS = frozenset({"completed", "sort", "order"})
# Texts for the language model, over the generated schemas' (their limits and choices stay).
_FILTER_TEXTS = {
    "ordering": "Default created_at (oldest first); '-' for descending; priority sorts high first.",
}


def _category_name(description: str, *, nullable: bool = False) -> dict[str, Any]:
    name: dict[str, Any] = json_schema(CategorySerializer, "request")["properties"]["name"]
    return {**name, "type": [name["type"], "null"] if nullable else name["type"], "description": description}


def _task_arguments(*, creating: bool) -> dict[str, Any]:
    """A task's fields as tool arguments: TaskSerializer's writable fields, but a category goes by
    its name (null: none). When creating, without NOT_ON_CREATE, and with the fields a new task
    needs required."""
    fields = json_schema(TaskSerializer, "request")
    arguments = {}
    for name, schema in fields["properties"].items():
        if name == "category_id":
            arguments["category"] = _category_name(f"{_CATEGORY_NAME} null: none.", nullable=True)
        elif not (creating and name in NOT_ON_CREATE):
            arguments[name] = schema
    if not creating:
        return _arguments({"task_id": _TASK_ID, **arguments}, required=["task_id"])
    return _arguments(arguments, required=[name for name in fields.get("required", []) if name in arguments])


def _task_filters() -> dict[str, Any]:
    """list_tasks' arguments: the task list's query parameters (TaskListParams) but
    NOT_TOOL_FILTERS, with a category by its name."""
    filters = {}
    for name, schema in json_schema(TaskListParams, "request")["properties"].items():
        if name in NOT_TOOL_FILTERS:
            continue
        if name == "category":
            schema = _category_name(_CATEGORY_NAME)
        filters[name] = {**schema, "description": _FILTER_TEXTS[name]} if name in _FILTER_TEXTS else schema
    return _arguments(filters)


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


def _listed_task() -> dict[str, Any]:
    """A task as list_tasks lists it: TaskSerializer's fields but NOT_LISTED_FIELDS, every one
    present (a task is rendered whole)."""
    fields = json_schema(TaskSerializer, "response")["properties"]
    return _object_schema({name: schema for name, schema in fields.items() if name not in NOT_LISTED_FIELDS})


def _listed_category() -> dict[str, Any]:
    fields = json_schema(CategorySerializer, "response")["properties"]
    return _object_schema({name: fields[name] for name in LISTED_CATEGORY_FIELDS})


def _listed_as(key: str, items: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A listing tool's result: its list, sent to MCP clients as the object {key: [...]}."""
    return {"result": lambda: _object_schema({key: {"type": "array", "items": items()}}), "list_key": key}


def _category_arguments() -> dict[str, Any]:
    """add_category's arguments: CategorySerializer's writable fields."""
    fields = json_schema(CategorySerializer, "request")
    return _arguments(fields["properties"], required=fields.get("required"))


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            name="add_task",
            description="Create a task for the user. Name a category to file it there.",
            function=add_task,
            arguments=lambda: _task_arguments(creating=True),
            result=lambda: _written_result("created"),
        ),
        Tool(
            name="list_tasks",
            description=f"List the user's tasks, oldest first (at most {LIST_LIMIT}); the filters narrow it.",
            function=list_tasks,
            arguments=_task_filters,
            **_listed_as("tasks", _listed_task),
            read_only=True,
        ),
        Tool(
            name="complete_task",
            description=(
                "Mark one of the user's tasks as done. A recurring task's next occurrence is created "
                "once (next_task_id); completing it again changes nothing."
            ),
            function=complete_task,
            arguments=lambda: _arguments({"task_id": _TASK_ID}, required=["task_id"]),
            result=lambda: _written_result("completed", next_task_id={"type": "integer"}),
            idempotent=True,
        ),
        Tool(
            name="delete_task",
            description="Delete one of the user's tasks, for good.",
            function=delete_task,
            arguments=lambda: _arguments({"task_id": _TASK_ID}, required=["task_id"]),
            result=lambda: _written_result("deleted"),
            destructive=True,
            idempotent=True,
        ),
        Tool(
            name="update_task",
            description=(
                "Change fields of one of the user's tasks: category sets its category by name (null: "
                "none); completed=false reopens it."
            ),
            function=update_task,
            arguments=lambda: _task_arguments(creating=False),
            result=lambda: _written_result("updated"),
            destructive=True,
            idempotent=True,
        ),
        Tool(
            name="list_categories",
            description="List the user's categories, by name.",
            function=list_categories,
            arguments=lambda: _arguments({}),
            **_listed_as("categories", _listed_category),
            read_only=True,
        ),
        Tool(
            name="add_category",
            description="Create a category for the user; names are unique in any case.",
            function=add_category,
            arguments=_category_arguments,
            result=lambda: _object_schema(
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


@functools.cache
def built_schemas() -> dict[str, ToolSchemas]:
    """Every tool's JSON Schemas, built on first use, not on import: drf-spectacular describes the
    serializers then. `built_schemas.cache_clear()` has them built anew (a test that adds a field
    to tasks at run time does)."""
    built = {}
    for name, tool in TOOLS.items():
        parameters = tool.arguments()
        built[name] = ToolSchemas(parameters, tool.result(), JSONTypes(parameters))
    return built


def tool_schemas() -> list[dict[str, Any]]:
    """The tools as OpenAI function tools."""
    return [tool.schema() for tool in TOOLS.values()]


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
