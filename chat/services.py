"""One chat turn, stateless (DESIGN §5): history from the database, the user's message stored
first, then the assistant's reply stored together with what its tools did."""

from django.conf import settings
from django.db import transaction

from accounts.models import User
from chat.assistant import Assistant, Reply
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


def chat_turn(*, conversation: Conversation, message: str, assistant: Assistant) -> Reply:
    """Store `message`, have `assistant` answer it, store the answer; return the answer.

    The user's message is committed before the assistant runs, so a provider failure loses
    nothing the user wrote. The assistant's tool effects and its message commit together: if
    the provider fails halfway (a tool ran, the next model call failed), the tool's writes are
    rolled back with it, and no reply claims or hides an effect. Call outside a transaction.
    """
    user = conversation.user
    history = recent_messages(conversation, limit=settings.CHAT_HISTORY_LIMIT)
    Message.objects.create(user=user, conversation=conversation, role=Role.USER, content=message)
    conversation.save(update_fields=["updated_at"])

    with transaction.atomic():
        reply = assistant.reply(user=user, history=history, message=message)
        Message.objects.create(
            user=user,
            conversation=conversation,
            role=Role.ASSISTANT,
            content=reply.content,
            tool_calls=[call.as_dict() for call in reply.tool_calls] or None,
        )
        conversation.save(update_fields=["updated_at"])
    return reply
