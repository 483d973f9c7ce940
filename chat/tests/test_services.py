"""chat.services.chat_turn's failures: plain exceptions that name the conversation. Their HTTP
answers are ironclad.errors' (test_chat_api.py, test_openai_provider.py)."""

import pytest
from rest_framework.exceptions import APIException

from chat.assistant import AssistantFailure, AssistantTimeout, Reply
from chat.services import ChatTurnFailed, chat_turn


class FailingAssistant:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def reply(self, *, user, history, message) -> Reply:
        raise self.error


@pytest.mark.parametrize("error", [AssistantTimeout(), RuntimeError("a bug")], ids=["timeout", "bug"])
def test_a_failure_names_the_conversation_and_keeps_the_error(make_conversation, user, error):
    conversation = make_conversation(user)

    with pytest.raises(ChatTurnFailed) as raised:
        chat_turn(conversation=conversation, message="hi", assistant=FailingAssistant(error))

    assert (raised.value.conversation_id, raised.value.error) == (conversation.pk, error)
    assert raised.value.__cause__ is error
    assert list(conversation.messages.values_list("role", "content")) == [("user", "hi")]


def test_the_chat_layer_knows_nothing_of_http():
    assert not issubclass(AssistantFailure, APIException)
    assert not issubclass(ChatTurnFailed, APIException)
