from typing import Any, cast

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from accounts.permissions import OWN_PATH
from idempotency.decorators import idempotent
from ironclad.conditional import ConditionalObjects, etag_of
from ironclad.envelopes import EnvelopeResponse
from ironclad.openapi import envelope_meta
from ironclad.pagination import PAGING_PARAMS, PageNumberPagination
from ironclad.untrusted import BIGINT_MAX, ascii_integer
from ironclad.views import OBJECT_ID, StrictQueryParams
from todos import services
from todos.changes import change_page, encode_cursor
from todos.filters import TaskListParams, task_filters
from todos.models import Category, ChangeKind, Task
from todos.selectors import TaskFilters, task_page
from todos.serializers import (
    CategorySerializer,
    ChangeSerializer,
    ChangesParams,
    TaskBulkSerializer,
    TaskCompleteSerializer,
    TaskSerializer,
)

TASK_REF = {"$ref": "#/components/schemas/Task"}


class OwnedModelViewSet(ConditionalObjects, StrictQueryParams, viewsets.ModelViewSet):
    """Objects of the signed-in user only, under /api/... and the compatibility prefix /api/{user_id}/...."""

    paginated_actions = ("list",)
    lookup_value_regex = OBJECT_ID  # ASCII only: \d would take "٣"
    permission_classes = OWN_PATH

    def get_serializer_context(self) -> dict[str, Any]:
        # Serializers read the owner from their context, whoever calls them (the chat's tools too).
        # (The schema generator asks for it too, signed in as nobody.)
        return {**super().get_serializer_context(), "user": self.request.user}

    @idempotent()
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)


@extend_schema_view(list=extend_schema(parameters=[TaskListParams]))
class TaskViewSet(OwnedModelViewSet):
    serializer_class = TaskSerializer
    etag_actions = (*OwnedModelViewSet.etag_actions, "complete")
    error_statuses = {"bulk": ["404"]}  # an id that is not one of your tasks
    response_meta = {
        "complete": envelope_meta(next_occurrence={"allOf": [TASK_REF], "nullable": True}),
        "bulk": envelope_meta(next_occurrences={"type": "array", "items": TASK_REF}),
    }
    query_params = {"list": tuple(TaskListParams._declared_fields)}

    def get_queryset(self):
        return Task.objects.for_user(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = signed_in_user(request)
        query = request.query_params.dict()  # a QueryDict would read a missing boolean as false
        # The dashboard's usual request has nothing to validate.
        filters = TaskFilters() if query.keys() <= PAGING_PARAMS else task_filters(query)
        paginator = cast(PageNumberPagination, self.paginator)
        tasks = paginator.paginate(
            request, lambda offset, limit: task_page(user, filters, offset=offset, limit=limit)
        )
        represent = self.get_serializer().to_representation
        return self.get_paginated_response([represent(task) for task in tasks])

    def perform_create(self, serializer: serializers.BaseSerializer[Task]) -> None:
        user = signed_in_user(self.request)
        serializer.instance = services.task_create(user=user, **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[Task]) -> None:
        task = cast(Task, serializer.instance)  # an update's serializer holds the task it updates
        serializer.instance, _next_task = services.task_update(
            task=task, precondition=self.precondition(), **serializer.validated_data
        )

    def perform_destroy(self, instance: Task) -> None:
        services.task_delete(task=instance, precondition=self.precondition())

    @extend_schema(request=TaskCompleteSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["patch"])
    @idempotent()
    def complete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """No body toggles `completed`; {"completed": bool} sets it. A recurring task's next
        occurrence is created once, and returned in `meta.next_occurrence`."""
        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task_id = ascii_integer(kwargs[self.lookup_field], 1, BIGINT_MAX)
        if task_id is None:  # no task has it
            raise exceptions.NotFound()
        task, next_task = services.task_set_completed_by_id(
            user_id=signed_in_user(request).pk,
            task_id=task_id,
            completed=body.validated_data.get("completed"),
            precondition=self.precondition(),
        )
        context = self.get_serializer_context()
        return EnvelopeResponse(
            TaskSerializer(task, context=context).data,
            meta={"next_occurrence": TaskSerializer(next_task, context=context).data if next_task else None},
        )

    @extend_schema(request=TaskBulkSerializer, responses=TaskSerializer(many=True))
    @action(detail=False, methods=["post"], pagination_class=None)
    @idempotent()
    def bulk(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Complete, reopen, delete or update up to 100 of your tasks in one transaction: all or
        none. An id that is not one of your tasks is a 404 (`details.missing_ids`) and nothing
        changes. `data`: the tasks as they are now, in the order of `ids` (none for delete);
        `meta.next_occurrences`: the tasks that completing recurring ones created."""
        body = TaskBulkSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        tasks, next_tasks = services.tasks_bulk(user=signed_in_user(request), **body.validated_data)
        represent = self.get_serializer().to_representation
        return EnvelopeResponse(
            [represent(task) for task in tasks],
            meta={"next_occurrences": [represent(task) for task in next_tasks]},
        )


class CategoryViewSet(OwnedModelViewSet):
    serializer_class = CategorySerializer

    def get_queryset(self):
        return Category.objects.for_user(self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Category]) -> None:
        user = signed_in_user(self.request)
        serializer.instance = services.category_create(user=user, **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[Category]) -> None:
        category = cast(Category, serializer.instance)
        serializer.instance = services.category_update(
            category=category, precondition=self.precondition(), **serializer.validated_data
        )

    def perform_destroy(self, instance: Category) -> None:
        services.category_delete(category=instance, precondition=self.precondition())


@extend_schema(parameters=[ChangesParams], responses=ChangeSerializer(many=True))
class ChangeViewSet(StrictQueryParams, viewsets.ViewSet):
    """What changed in your tasks and categories since `cursor`, oldest change first: each object
    as it is now, a deleted one as a tombstone. Call again with `meta.cursor` until
    `meta.has_more` is false; keep that cursor for the next sync. 410 `cursor_expired`: the
    cursor is older than the deletions kept (CHANGE_TOMBSTONE_DAYS), or another user's: sync
    again without one."""

    permission_classes = OWN_PATH
    query_params = {"list": tuple(ChangesParams._declared_fields)}
    error_statuses = ["410"]
    response_meta = {
        "list": envelope_meta(
            cursor={"type": "string", "description": "Where the next call starts."},
            has_more={"type": "boolean", "description": "true: call again now with the cursor."},
        )
    }

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = ChangesParams(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        page = change_page(
            signed_in_user(request),
            after=params.validated_data.get("cursor"),
            limit=params.validated_data["page_size"],
        )
        context = {"request": request, "user": request.user}
        serializers_by_kind: dict[str, type[serializers.ModelSerializer]] = {
            ChangeKind.TASK: TaskSerializer,
            ChangeKind.CATEGORY: CategorySerializer,
        }
        changes = []
        for kind, object_id, instance in page.changes:
            change: dict[str, Any] = {"type": kind, "id": object_id, "deleted": instance is None}
            if instance is not None:
                data = serializers_by_kind[kind](instance, context=context).data
                change |= {"etag": etag_of(data), "data": data}
            changes.append(change)
        return EnvelopeResponse(
            changes, meta={"cursor": encode_cursor(page.cursor), "has_more": page.has_more}
        )
