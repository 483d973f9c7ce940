"""Conversations with the assistant and their messages, each owned by one better-auth user
(tables: docs/database.md)."""

from django.db import models

from accounts.models import OwnedQuerySet, User

CONVERSATION_TITLE_MAX_LENGTH = 80
MESSAGE_MAX_LENGTH = 4000


class Role(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class Conversation(models.Model):
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        related_name="conversations",
        # The (userId, updatedAt) index below leads with userId and serves lookups by user.
        db_index=False,
    )
    title = models.TextField(default="", blank=True)
    created_at = models.DateTimeField(db_column="createdAt", auto_now_add=True)
    updated_at = models.DateTimeField(db_column="updatedAt", auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        db_table = "conversation"
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["user", "updated_at"], name="conversation_user_updated")]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Message(models.Model):
    user = models.ForeignKey(User, on_delete=models.DB_CASCADE, db_column="userId", related_name="messages")
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.DB_CASCADE,
        db_column="conversationId",
        related_name="messages",
        # The (conversationId, createdAt) index below leads with conversationId.
        db_index=False,
    )
    role = models.TextField(choices=Role.choices)
    content = models.TextField(blank=True)
    # The assistant's tool calls, [{"tool_name", "arguments", "result"}]; NULL when it made none.
    tool_calls = models.JSONField(db_column="toolCalls", null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        db_table = "message"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_conversation_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="message_role_valid")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:50]}"
