"""The chat's failures in the API's error envelope. The chat view answers with this handler; every
other error goes on to the API's own (ironclad.errors.exception_handler)."""

from typing import Any

from rest_framework import status
from rest_framework.response import Response

from chat.assistant import AssistantFailure, AssistantTimeout
from chat.services import ChatTurnFailed
from ironclad.errors import exception_handler
from ironclad.exceptions import APIError


class AssistantUnavailableError(APIError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The assistant is unavailable. Your message was saved; try again shortly."
    default_code = "assistant_unavailable"


class AssistantTimeoutError(APIError):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The assistant took too long to answer. Your message was saved; try again."
    default_code = "assistant_timeout"


def assistant_error(failure: AssistantFailure) -> APIError:
    """502, or 504 when time ran out. The tool calls it had made took effect: `details.tool_calls`
    lists them, and the message counts those that changed a task."""
    kind = AssistantTimeoutError if isinstance(failure, AssistantTimeout) else AssistantUnavailableError
    message = str(kind.default_detail)
    if count := len(failure.changes):
        changes = "1 change" if count == 1 else f"{count} changes"
        message += f" It had already made {changes}: see details.tool_calls."
    error = kind(message)
    error.details = {"tool_calls": [call.as_dict() for call in failure.tool_calls]}
    return error


def chat_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """A failed turn is answered as its error, naming the conversation that keeps the message."""
    if isinstance(exc, ChatTurnFailed):
        answer = chat_exception_handler(exc.error, context)
        error = answer.data["error"]
        error["details"] = {"conversation_id": exc.conversation_id, **error["details"]}
        return answer
    if isinstance(exc, AssistantFailure):
        exc = assistant_error(exc)
    return exception_handler(exc, context)
