from typing import Any, cast

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from accounts.permissions import OWN_PATH
from ironclad.api import OBJECT_ID, PAGING_PARAMS, EnvelopeResponse, PageNumberPagination, StrictQueryParams
from todos import services
from todos.filters import TaskListParams, task_filters
from todos.models import Category, Task
from todos.selectors import TaskFilters, task_page
from todos.serializers import CategorySerializer, TaskCompleteSerializer, TaskSerializer


class OwnedModelViewSet(StrictQueryParams, viewsets.ModelViewSet):
    """Objects of the signed-in user only, under /api/... and the compatibility prefix /api/{user_id}/...."""

    paginated_actions = ("list",)
    lookup_value_regex = OBJECT_ID  # ASCII only: \d would take "٣"
    permission_classes = OWN_PATH

    def get_serializer_context(self) -> dict[str, Any]:
        # Serializers read the owner from their context, whoever calls them (the chat's tools too).
        # (The schema generator asks for it too, signed in as nobody.)
        return {**super().get_serializer_context(), "user": self.request.user}


@extend_schema_view(list=extend_schema(parameters=[TaskListParams]))
class TaskViewSet(OwnedModelViewSet):
    serializer_class = TaskSerializer
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
        serializer.instance = services.task_update(task=task, **serializer.validated_data)

    @extend_schema(request=TaskCompleteSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["patch"])
    def complete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """No body toggles `completed`; {"completed": bool} sets it. A recurring task's next
        occurrence is created once, and returned in `meta.next_occurrence`."""
        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task, next_task = services.task_set_completed(
            task=self.get_object(), completed=body.validated_data.get("completed")
        )
        context = self.get_serializer_context()
        return EnvelopeResponse(
            TaskSerializer(task, context=context).data,
            meta={"next_occurrence": TaskSerializer(next_task, context=context).data if next_task else None},
        )


class CategoryViewSet(OwnedModelViewSet):
    serializer_class = CategorySerializer

    def get_queryset(self):
        return Category.objects.for_user(self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Category]) -> None:
        serializer.save(user=signed_in_user(self.request))
