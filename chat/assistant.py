"""The one interface every assistant provider implements, and the choice of provider.

A provider reads the conversation so far and the new message, acts through chat.tools for
the user the server binds, and returns its answer with the tool calls it made. It raises
AssistantUnavailable or AssistantTimeout when it cannot answer, with the tool calls it had made;
the view turns those into the error envelope (502, 504).
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException

from accounts.models import User
from chat.models import Message


@dataclass(frozen=True)
class ToolCall:
    tool_name: str
    arguments: dict[str, Any]
    result: Any

    def as_dict(self) -> dict[str, Any]:
        return {"tool_name": self.tool_name, "arguments": self.arguments, "result": self.result}


class AssistantFailure(APIException):
    """The provider could not finish its reply. Each tool call commits on its own, so the calls it
    made before failing (`tool_calls`) have taken effect: the failure says which."""

    def __init__(self, *, tool_calls: list[ToolCall] | None = None) -> None:
        self.tool_calls = tool_calls or []
        detail = self.default_detail
        if done := len(self.tool_calls):
            actions = "1 action" if done == 1 else f"{done} actions"
            detail += f" {actions} had already been carried out: see details.tool_calls."
        super().__init__(detail)


class AssistantUnavailable(AssistantFailure):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The assistant is unavailable. Your message was saved; try again shortly."
    default_code = "assistant_unavailable"


class AssistantTimeout(AssistantFailure):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The assistant took too long to answer. Your message was saved; try again."
    default_code = "assistant_timeout"


@dataclass(frozen=True)
class Reply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)


class Assistant(Protocol):
    def reply(self, *, user: User, history: list[Message], message: str) -> Reply:
        """Answer `message`, the newest in a conversation whose earlier messages are `history`
        (oldest first), acting for `user`."""
        ...


def get_assistant() -> Assistant:
    """The provider CHAT_PROVIDER names: "offline" (the default) or "openai"."""
    if settings.CHAT_PROVIDER == "openai":
        from chat.openai_provider import OpenAIAssistant

        return OpenAIAssistant.from_settings()
    from chat.offline import OfflineAssistant

    return OfflineAssistant()
