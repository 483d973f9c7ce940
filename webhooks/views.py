from typing import Any, cast

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from accounts.permissions import OWN_PATH
from idempotency.decorators import idempotent
from ironclad.untrusted import BIGINT_MAX, ascii_integer
from ironclad.views import OBJECT_ID, StrictQueryParams
from webhooks import selectors, services
from webhooks.models import Webhook
from webhooks.serializers import (
    DeliveryListParams,
    DeliverySerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
    WebhookWithSecretSerializer,
)


@extend_schema_view(
    list=extend_schema(description="Your webhooks, oldest first."),
    retrieve=extend_schema(description="One of your webhooks (never its secret)."),
    destroy=extend_schema(description="Delete a webhook and its deliveries."),
)
class WebhookViewSet(
    StrictQueryParams,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Where your events go: each webhook receives the event types it names, signed with its secret
    (Standard Webhooks), one delivery at a time, oldest first."""

    serializer_class = WebhookSerializer
    permission_classes = OWN_PATH
    lookup_value_regex = OBJECT_ID  # ASCII only: \d would take "٣"
    paginated_actions = ("list", "deliveries")
    query_params = {"deliveries": tuple(DeliveryListParams._declared_fields)}

    def get_queryset(self):
        return selectors.webhooks_of(self.request.user)

    @extend_schema(
        request=WebhookCreateSerializer,
        responses={201: WebhookWithSecretSerializer},
        description="Add a webhook. The answer holds its `secret`, which is shown only here and on "
        "rotation: verify each delivery's signature with it. At most QUOTA_WEBHOOKS per account.",
    )
    @idempotent()
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = services.webhook_create(user=signed_in_user(request), **body.validated_data)
        return Response(WebhookWithSecretSerializer(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=WebhookUpdateSerializer,
        responses=WebhookSerializer,
        description="Change its URL or event types, or enable or disable it.",
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = WebhookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = services.webhook_update(webhook=self.get_object(), **body.validated_data)
        return Response(WebhookSerializer(webhook).data)

    def perform_destroy(self, instance: Webhook) -> None:
        services.webhook_delete(webhook=instance)

    @extend_schema(
        request=None,
        responses=WebhookWithSecretSerializer,
        description="Replace its secret; the answer holds the new one. The old one signs too, beside "
        "it, for WEBHOOK_PREVIOUS_SECRET_HOURS (`previous_secret_until`), for receivers to change over.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent()
    def rotate_secret(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook = services.webhook_rotate_secret(webhook=self.get_object())
        return Response(WebhookWithSecretSerializer(webhook).data)

    @extend_schema(
        parameters=[DeliveryListParams],
        responses=DeliverySerializer(many=True),
        description="Its deliveries, newest first, each with its attempts, oldest first.",
    )
    @action(detail=True, methods=["get"], serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = DeliveryListParams(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        deliveries = selectors.deliveries_of(self.get_object(), status=params.validated_data.get("status"))
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={202: DeliverySerializer},
        description="Send a delivery's event again, whatever became of it: a new pending delivery, "
        "sent after those pending before it, with the same webhook-id.",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"deliveries/(?P<delivery_id>{OBJECT_ID})/redeliver",
        serializer_class=DeliverySerializer,
    )
    @idempotent()
    def redeliver(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        delivery_id = ascii_integer(cast(str, kwargs["delivery_id"]), 1, BIGINT_MAX)
        if delivery_id is None:  # no delivery has it
            raise exceptions.NotFound()
        delivery = services.delivery_redeliver(webhook=self.get_object(), delivery_id=delivery_id)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
