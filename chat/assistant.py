"""The one interface every assistant provider implements, and the choice of provider.

A provider reads the conversation so far and the new message, acts through agents.tools for
the user the server binds, and returns its answer with the tool calls it made. It raises
AssistantUnavailable or AssistantTimeout when it cannot answer, with the tool calls it had made;
ironclad.errors answers those as 502 and 504.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from accounts.models import User
from chat.models import Message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolCall:
    tool_name: str
    arguments: dict[str, Any]
    result: Any

    def as_dict(self) -> dict[str, Any]:
        return {"tool_name": self.tool_name, "arguments": self.arguments, "result": self.result}

    @property
    def changed(self) -> bool:
        """Whether the call changed a task: a write's result has a status; errors and lists do not."""
        return isinstance(self.result, dict) and "status" in self.result

    def summary(self) -> str:
        """E.g. "complete_task -> completed task 3", "list_tasks -> 4 tasks"."""
        if isinstance(self.result, list):
            return f"{self.tool_name} -> {len(self.result)} tasks"
        return f"{self.tool_name} -> {self.result.get('status', 'done')} task {self.result.get('task_id')}"


class AssistantFailure(Exception):
    """The provider could not finish its reply. Each tool call commits on its own, so the calls it
    made before failing (`tool_calls`) have taken effect: the failure says which."""

    interrupted = ""  # what happened, for the conversation's record

    def __init__(self, *, tool_calls: list[ToolCall] | None = None) -> None:
        super().__init__(self.interrupted)
        self.tool_calls = tool_calls or []
        self.changes = [call for call in self.tool_calls if call.changed]
        self.recorded_as: int | None = None  # the message that records its tool calls (chat.services)

    def note(self) -> str:
        """The assistant message that records the tool calls made before the failure."""
        if not self.changes:
            return f"{self.interrupted} Nothing was changed."
        return f"{self.interrupted} Done before that: {'; '.join(call.summary() for call in self.changes)}."


class AssistantUnavailable(AssistantFailure):
    interrupted = "The assistant became unavailable before it finished this reply."


class AssistantTimeout(AssistantFailure):
    interrupted = "The assistant ran out of time before it finished this reply."


@contextmanager
def failures_report(calls: list[ToolCall]) -> Iterator[None]:
    """Within a reply: a failure after tool calls took effect lists them. The provider's own
    (AssistantUnavailable, AssistantTimeout) keeps its kind; any other error (a bug, the database
    going away) becomes AssistantUnavailable. So no change goes unreported."""
    try:
        yield
    except AssistantFailure as failure:
        if not calls or failure.tool_calls:
            raise
        raise type(failure)(tool_calls=calls) from failure
    except Exception as error:
        if not calls:
            raise
        logger.exception("the assistant failed after %d tool call(s)", len(calls))
        raise AssistantUnavailable(tool_calls=calls) from error


@dataclass(frozen=True)
class Reply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    recorded_as: int | None = None  # the assistant message that records it, once stored


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
