"""What the database itself guarantees for conversations and messages, whoever writes (PostgreSQL)."""

import pytest
from django.db import IntegrityError, connection, transaction

from chat.models import Conversation, Message

pytestmark = [
    pytest.mark.postgres("database rules are proven on PostgreSQL"),
]


def test_plain_sql_deletes_cascade(user, other_user, make_conversation, make_message):
    alices = make_conversation(user)
    make_message(alices)
    bobs = make_conversation(other_user)
    make_message(bobs)

    with connection.cursor() as cursor:
        cursor.execute('DELETE FROM "conversation" WHERE id = %s', [alices.pk])
    assert not Message.objects.filter(conversation_id=alices.pk).exists()

    with connection.cursor() as cursor:  # better-auth deleting a user
        cursor.execute('DELETE FROM "user" WHERE id = %s', [other_user.pk])
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()


def test_the_role_is_checked(user, make_conversation):
    conversation = make_conversation(user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(user=user, conversation=conversation, role="system", content="x")


def test_columns_are_named_as_the_contract_says(db):
    with connection.cursor() as cursor:
        columns = {
            table: [c.name for c in connection.introspection.get_table_description(cursor, table)]
            for table in ("conversation", "message")
        }

    assert columns == {
        "conversation": ["id", "title", "createdAt", "updatedAt", "userId"],
        "message": ["id", "role", "content", "toolCalls", "createdAt", "conversationId", "userId"],
    }
