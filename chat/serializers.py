"""Validation of chat requests and the representation of conversations and messages."""

from rest_framework import serializers

from chat.models import MESSAGE_MAX_LENGTH, Conversation, Message
from ironclad.serializers import IntegerField, ModelSerializer, Serializer


class ChatRequestSerializer(Serializer):
    message = serializers.CharField(max_length=MESSAGE_MAX_LENGTH)
    conversation_id = IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Continue this conversation; omit to start a new one.",
    )


class ChatToolCallSerializer(serializers.Serializer):
    tool_name = serializers.CharField()
    arguments = serializers.DictField(help_text="The arguments the tool was called with.")
    result = serializers.JSONField(help_text='What the tool returned; {"error": ...} when it failed.')


class ChatResponseSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    response = serializers.CharField(help_text="The assistant's answer.")
    tool_calls = ChatToolCallSerializer(many=True)


class ConversationSerializer(ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "title", "created_at", "updated_at"]
        read_only_fields = fields


class MessageSerializer(ModelSerializer):
    conversation_id = serializers.IntegerField(read_only=True)
    tool_calls = ChatToolCallSerializer(many=True, read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = ["id", "conversation_id", "role", "content", "tool_calls", "created_at"]
        read_only_fields = fields
