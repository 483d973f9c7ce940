from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import (
    BearerSessionAuthentication,
    JWTAuthentication,
    UntrustedOrigin,
    is_trusted_origin,
    signed_in_user,
)
from accounts.models import User
from accounts.permissions import OWN_PATH
from chat import services
from chat.assistant import AssistantTimeout, AssistantUnavailable, ToolCall, get_assistant
from chat.models import Conversation, Message
from chat.serializers import (
    ChatRequestSerializer,
    ChatResponseSerializer,
    ConversationSerializer,
    MessageSerializer,
)
from chat.services import ChatTurnFailed
from idempotency.decorators import idempotent, keep_by_reference
from ironclad.api import OBJECT_ID, StrictQueryParams, error_body
from ironclad.conditional import ConditionalObjects
from ironclad.errors import exception_handler
from ironclad.untrusted import clip


def chat_answer(conversation_id: int, content: str, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    serializer = ChatResponseSerializer(
        {"conversation_id": conversation_id, "response": content, "tool_calls": tool_calls}
    )
    return dict(serializer.data)


def answer_again(user: User, status: int, reference: dict[str, Any]) -> tuple[int, bytes]:
    """A chat answer kept by reference, read again from the message that records it: the reply,
    or the note of a failure (502, 504) with the tool calls made before it."""
    message = Message.objects.for_user(user).filter(pk=reference["message_id"]).first()
    if message is None:  # its conversation was deleted since
        gone = error_body("not_found", "The conversation of this answer was deleted since.")
        return 404, JSONRenderer().render(gone)
    tool_calls = message.tool_calls or []
    if status == 200:
        answer = {"data": chat_answer(message.conversation_id, message.content, tool_calls), "meta": {}}
        return status, JSONRenderer().render(answer)
    failure_class = AssistantTimeout if status == 504 else AssistantUnavailable
    failure = failure_class(tool_calls=[ToolCall(**call) for call in tool_calls])
    # Answered as the failure was, by the API's one exception handler.
    failed = exception_handler(ChatTurnFailed(conversation_id=message.conversation_id, error=failure), {})
    return failed.status_code, JSONRenderer().render(failed.data)


class ChatView(StrictQueryParams, APIView):
    """Send a message to the assistant; it may act on your tasks. Without `conversation_id` a new
    conversation starts. Your message is saved even when the assistant fails (502, 504, 500):
    the error's `details.conversation_id` says where, and for 502 and 504 `details.tool_calls`
    lists the actions it had already carried out."""

    permission_classes = OWN_PATH
    throttle_scope = "chat"  # THROTTLE_CHAT_RATE: each message may call a language model
    error_statuses = ["404", "502", "504"]  # 404: an unknown conversation_id

    @extend_schema(request=ChatRequestSerializer, responses=ChatResponseSerializer, operation_id="chat")
    # The message is kept first, each tool call commits on its own; an answer too large to keep
    # whole is kept as the message that records it.
    @idempotent(atomic=False, read_again=answer_again)
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ChatRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = body.validated_data["message"]
        conversation_id = body.validated_data.get("conversation_id")
        user = signed_in_user(request)
        if conversation_id is None:
            conversation = services.conversation_start(user=user, message=message)
        else:
            conversation = get_object_or_404(Conversation.objects.for_user(user), pk=conversation_id)
        conversation.user = user  # it is: chat_turn need not load it again
        # chat_turn fails with a ChatTurnFailed: the error answer names the conversation.
        reply = services.chat_turn(conversation=conversation, message=message, assistant=get_assistant())
        answer = chat_answer(conversation.pk, reply.content, [call.as_dict() for call in reply.tool_calls])
        return keep_by_reference(Response(answer), {"message_id": reply.recorded_as})

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        recorded_as = getattr(exc.error, "recorded_as", None) if isinstance(exc, ChatTurnFailed) else None
        if recorded_as is not None:  # a failure after tool calls, which a message records
            keep_by_reference(response, {"message_id": recorded_as})
        return response


class ConversationViewSet(
    ConditionalObjects,
    StrictQueryParams,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your conversations with the assistant, newest first, and their messages, oldest first."""

    serializer_class = ConversationSerializer
    permission_classes = OWN_PATH
    paginated_actions = ("list", "messages")
    etag_actions = ("retrieve",)
    lookup_value_regex = OBJECT_ID  # ASCII only: \d would take "٣"

    def get_queryset(self):
        return Conversation.objects.for_user(self.request.user)

    def perform_destroy(self, instance: Conversation) -> None:
        services.conversation_delete(conversation=instance, precondition=self.precondition())

    @extend_schema(responses=MessageSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=MessageSerializer)
    def messages(self, request: Request, *args, **kwargs) -> Response:
        conversation = self.get_object()
        page = self.paginate_queryset(conversation.messages.order_by("created_at", "id"))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


# --- MCP (chat.mcp_server) --------------------------------------------------------------------


def refuse_untrusted_origin(request: Request) -> None:
    """The MCP specification's defence against DNS rebinding: a browser's request (it has an
    Origin) must come from the front end's origins or this server's own. Its own only when
    ALLOWED_HOSTS names the hosts: with "*" (DEBUG), a rebinding page's Host would pass as ours."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if "*" in settings.ALLOWED_HOSTS:
        trusted = origin.rstrip("/") in settings.TRUSTED_ORIGINS
    else:
        trusted = is_trusted_origin(request, origin)
    if not trusted:
        raise UntrustedOrigin(f"Requests to /mcp from the origin {clip(origin, 100)!r} are not accepted.")


@extend_schema(exclude=True)  # MCP's own protocol, not a REST route (docs/mcp.md)
class McpView(APIView):
    """MCP's streamable HTTP transport: POST a JSON-RPC message, get the answer as JSON. Stateless:
    no session, no stream to GET (405, as the transport allows)."""

    # The REST API's bearer credentials; not the session cookie, which a browser would send on its own.
    authentication_classes = [JWTAuthentication, BearerSessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get_authenticate_header(self, request: Request) -> str:
        """A 401 names the resource's metadata (RFC 9728), where an MCP client learns which
        authorization server gives tokens."""
        return f'Bearer resource_metadata="{request.build_absolute_uri(reverse("mcp-metadata"))}"'

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        refuse_untrusted_origin(request)  # before anything else runs
        super().initial(request, *args, **kwargs)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Imported on the first MCP request: the SDK costs each worker 28 MB and 0.3 s at start,
        # which a deployment that serves no agent need not pay.
        from chat.mcp_server import answer_http

        return answer_http(signed_in_user(request), request._request)


@require_safe
def mcp_resource_metadata(request: HttpRequest) -> HttpResponseBase:
    """OAuth 2.0 Protected Resource Metadata (RFC 9728) of /mcp: the resource, and the front end's
    better-auth as the server that issues its tokens, when BETTER_AUTH_URL names it."""
    metadata: dict[str, Any] = {
        "resource": request.build_absolute_uri(reverse("mcp")),
        "bearer_methods_supported": ["header"],
        "resource_name": "Ironclad",
    }
    if settings.BETTER_AUTH_URL:
        metadata["authorization_servers"] = [settings.BETTER_AUTH_URL]
    return JsonResponse(metadata, headers={"Cache-Control": "public, max-age=3600"})
