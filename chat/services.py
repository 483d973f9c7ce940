"""One chat turn, stateless: history from the database, the user's message stored first, then
the assistant's reply stored together with what its tools did."""

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from accounts.models import User
from accounts.quotas import ensure_room
from agents.tools import TOOLS, is_error
from chat.assistant import (
    Assistant,
    AssistantFailure,
    AssistantTimeout,
    AssistantUnavailable,
    Reply,
    ToolCall,
)
from chat.models import CONVERSATION_TITLE_MAX_LENGTH, Conversation, Message, Role
from ironclad.metrics import CHAT_PROVIDER_SECONDS, CHAT_REPLIES, count_tool_call
from ironclad.transactions import atomic_with_retries


def conversation_title(message: str) -> str:
    """The first message on one line, cut at a word boundary when it is long."""
    text = " ".join(message.split())
    if len(text) <= CONVERSATION_TITLE_MAX_LENGTH:
        return text
    cut = text[: CONVERSATION_TITLE_MAX_LENGTH - 1]
    if " " in cut[CONVERSATION_TITLE_MAX_LENGTH // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def conversation_start(*, user: User, message: str) -> Conversation:
    """The conversation `message` opens, not saved yet: chat_turn saves it with the message, in one
    transaction, or not at all (QuotaExceeded)."""
    return Conversation(user=user, title=conversation_title(message))


@atomic_with_retries
def conversation_delete(
    *, conversation: Conversation, precondition: Callable[[Any], None] | None = None
) -> None:
    """Delete a conversation and its messages (ON DELETE CASCADE, in the database)."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if precondition is not None:
        precondition(conversation)
    conversation.delete()


def recent_messages(conversation: Conversation, *, limit: int) -> list[Message]:
    """The last `limit` messages, oldest first."""
    newest_first = conversation.messages.order_by("-created_at", "-id")[:limit]
    return list(reversed(newest_first))


class ChatTurnFailed(Exception):
    """A chat turn failed once its conversation was known: `error` says why, `conversation_id`
    where the user's message belongs (ironclad.errors answers `error`, naming the conversation)."""

    def __init__(self, *, conversation_id: int, error: Exception) -> None:
        super().__init__(f"the turn in conversation {conversation_id} failed: {error!r}")
        self.conversation_id = conversation_id
        self.error = error


def chat_turn(*, conversation: Conversation, message: str, assistant: Assistant) -> Reply:
    """Store `message` (and the conversation, when it is new), have `assistant` answer it, store the
    answer; return the answer. A quota that leaves no room for the message raises QuotaExceeded,
    and nothing is stored; any later error comes as ChatTurnFailed, for the client to find the
    conversation its message went to.

    No transaction is open while the assistant runs: a model may think for seconds, and a
    transaction would hold its row locks (and its connection) all that time. The user's message
    is committed first, so a provider failure loses nothing the user wrote; each tool call
    commits on its own (agents.tools.run_tool). When the provider fails after some tool calls,
    those took effect: the AssistantFailure lists them, and an assistant message records them.
    """
    history = (
        [] if conversation.pk is None else recent_messages(conversation, limit=settings.CHAT_HISTORY_LIMIT)
    )
    _store_users_message(conversation, message, new=conversation._state.adding)
    try:
        return _answer(conversation, history, message, assistant)
    except Exception as error:
        raise ChatTurnFailed(conversation_id=conversation.pk, error=error) from error


@atomic_with_retries
def _store_users_message(conversation: Conversation, message: str, *, new: bool) -> None:
    user = conversation.user
    if new:
        ensure_room(user.pk, "conversations", Conversation.objects.for_user(user))
        # Run again after a deadlock, the insert takes the id its rolled-back attempt was given.
        conversation.save(force_insert=True)
    # Only the messages the user sends count: each has at most one reply (an answer, or the note of
    # a failure), so the messages kept stay within twice the quota.
    ensure_room(user.pk, "messages", Message.objects.for_user(user).filter(role=Role.USER))
    _store(conversation, role=Role.USER, content=message)


def _answer(conversation: Conversation, history: list[Message], message: str, assistant: Assistant) -> Reply:
    try:
        reply = _measured_reply(conversation.user, history, message, assistant)
    except AssistantFailure as failure:
        if failure.tool_calls:
            note = _store(
                conversation, role=Role.ASSISTANT, content=failure.note(), tool_calls=failure.tool_calls
            )
            failure.recorded_as = note.pk
        raise
    stored = _store(conversation, role=Role.ASSISTANT, content=reply.content, tool_calls=reply.tool_calls)
    return dataclasses.replace(reply, recorded_as=stored.pk)


def _measured_reply(user: User, history: list[Message], message: str, assistant: Assistant) -> Reply:
    """assistant.reply, counted for /metrics: how long the provider took, how it ended, and each
    tool it ran."""
    provider = settings.CHAT_PROVIDER
    started = time.perf_counter()
    outcome, tool_calls = "error", list[ToolCall]()
    try:
        reply = assistant.reply(user=user, history=history, message=message)
        outcome, tool_calls = "ok", reply.tool_calls
        return reply
    except AssistantUnavailable as failure:
        outcome, tool_calls = "unavailable", failure.tool_calls
        raise
    except AssistantTimeout as failure:
        outcome, tool_calls = "timeout", failure.tool_calls
        raise
    except AssistantFailure as failure:
        tool_calls = failure.tool_calls
        raise
    finally:
        CHAT_PROVIDER_SECONDS.labels(provider).observe(time.perf_counter() - started)
        CHAT_REPLIES.labels(provider, outcome).inc()
        for call in tool_calls:
            tool = call.tool_name if call.tool_name in TOOLS else "unknown"  # a model may name any
            count_tool_call("chat", tool, refused=is_error(call.result))


@atomic_with_retries
def _store(
    conversation: Conversation, *, role: str, content: str, tool_calls: list[ToolCall] | None = None
) -> Message:
    stored = Message.objects.create(
        user=conversation.user,
        conversation=conversation,
        role=role,
        content=content,
        tool_calls=[call.as_dict() for call in tool_calls] if tool_calls else None,
    )
    conversation.save(update_fields=["updated_at"])
    return stored
