"""One chat turn, stateless: history from the database, the user's message stored first, then
the assistant's reply stored together with what its tools did."""

from django.conf import settings
from django.db import transaction

from accounts.models import User
from chat.assistant import Assistant, AssistantFailure, Reply, ToolCall
from chat.models import CONVERSATION_TITLE_MAX_LENGTH, Conversation, Message, Role


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
    return Conversation.objects.create(user=user, title=conversation_title(message))


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
    """Store `message`, have `assistant` answer it, store the answer; return the answer. Any error
    comes as ChatTurnFailed, for the client to find the conversation its message went to.

    No transaction is open while the assistant runs: a model may think for seconds, and a
    transaction would hold its row locks (and its connection) all that time. The user's message
    is committed first, so a provider failure loses nothing the user wrote; each tool call
    commits on its own (chat.tools.run_tool). When the provider fails after some tool calls,
    those took effect: the AssistantFailure lists them, and when they changed tasks an assistant
    message records them.
    """
    try:
        return _turn(conversation, message, assistant)
    except Exception as error:
        raise ChatTurnFailed(conversation_id=conversation.pk, error=error) from error


def _turn(conversation: Conversation, message: str, assistant: Assistant) -> Reply:
    user = conversation.user
    history = recent_messages(conversation, limit=settings.CHAT_HISTORY_LIMIT)
    _store(conversation, role=Role.USER, content=message)
    try:
        reply = assistant.reply(user=user, history=history, message=message)
    except AssistantFailure as failure:
        if failure.changes:
            _store(conversation, role=Role.ASSISTANT, content=failure.note(), tool_calls=failure.tool_calls)
        raise
    _store(conversation, role=Role.ASSISTANT, content=reply.content, tool_calls=reply.tool_calls)
    return reply


@transaction.atomic
def _store(
    conversation: Conversation, *, role: str, content: str, tool_calls: list[ToolCall] | None = None
) -> None:
    Message.objects.create(
        user=conversation.user,
        conversation=conversation,
        role=role,
        content=content,
        tool_calls=[call.as_dict() for call in tool_calls] if tool_calls else None,
    )
    conversation.save(update_fields=["updated_at"])
