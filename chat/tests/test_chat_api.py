"""POST /api/chat: validation, conversations, storage, isolation and routes (offline assistant)."""

import pytest

from chat.assistant import AssistantTimeout, ToolCall
from chat.models import Conversation, Message
from chat.services import conversation_title
from todos.models import Task

CHAT = "/api/chat"


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    return response.json()["error"]["details"]


class TestConversation:
    def test_a_message_without_id_starts_a_conversation(self, alice_client, user):
        response = alice_client.post(CHAT, {"message": "add buy milk"})

        assert response.status_code == 200
        data = response.json()["data"]
        conversation = Conversation.objects.get(pk=data["conversation_id"])
        assert (conversation.user, conversation.title) == (user, "add buy milk")
        assert data["response"].startswith("Added task ")
        assert data["tool_calls"][0]["tool_name"] == "add_task"
        assert response.json()["meta"] == {}

    def test_the_reply_and_the_message_are_stored_in_order(self, alice_client, user):
        data = alice_client.post(CHAT, {"message": "add buy milk"}).json()["data"]

        stored = list(Message.objects.filter(conversation_id=data["conversation_id"]))
        assert [(m.role, m.user_id) for m in stored] == [("user", user.pk), ("assistant", user.pk)]
        assert stored[0].content == "add buy milk"
        assert stored[0].tool_calls is None
        assert stored[1].content == data["response"]
        assert stored[1].tool_calls == data["tool_calls"]

    def test_a_reply_without_tools_stores_no_tool_calls(self, alice_client):
        data = alice_client.post(CHAT, {"message": "hello"}).json()["data"]

        assert data["tool_calls"] == []
        assert Message.objects.get(role="assistant").tool_calls is None

    def test_continuing_a_conversation(self, alice_client, make_conversation, user):
        conversation = make_conversation(user, "Earlier")
        before = conversation.updated_at

        data = alice_client.post(CHAT, {"message": "hi", "conversation_id": conversation.pk}).json()["data"]

        assert data["conversation_id"] == conversation.pk
        assert conversation.messages.count() == 2
        conversation.refresh_from_db()
        assert conversation.title == "Earlier"
        assert conversation.updated_at > before
        assert Conversation.objects.count() == 1

    def test_the_message_is_trimmed(self, alice_client):
        data = alice_client.post(CHAT, {"message": "   add buy milk  "}).json()["data"]

        assert Message.objects.filter(role="user").get().content == "add buy milk"
        assert Task.objects.get(pk=data["tool_calls"][0]["result"]["task_id"]).title == "buy milk"


class TestTitle:
    def test_short_messages_are_the_title(self):
        assert conversation_title("  add   buy\nmilk ") == "add buy milk"

    def test_long_messages_are_cut_at_a_word(self):
        title = conversation_title("please " + "remember the milk " * 10)

        assert len(title) <= 80
        assert title.endswith("…")
        assert title[:-1].split()[-1] in {"please", "remember", "the", "milk"}

    def test_one_long_word_is_cut_anywhere(self):
        assert conversation_title("x" * 200) == "x" * 79 + "…"


class TestValidation:
    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"message": ""},
            {"message": "   "},
            {"message": "x" * 4001},
            {"message": None},
            {"message": ["a"]},
        ],
    )
    def test_a_missing_blank_or_too_long_message_is_400(self, alice_client, body):
        assert "message" in errors(alice_client.post(CHAT, body))
        assert not Message.objects.exists()
        assert not Conversation.objects.exists()

    def test_4000_characters_are_accepted(self, alice_client):
        assert alice_client.post(CHAT, {"message": "x" * 4000}).status_code == 200

    def test_a_bad_conversation_id_is_400(self, alice_client):
        assert "conversation_id" in errors(
            alice_client.post(CHAT, {"message": "hi", "conversation_id": "abc"})
        )

    def test_a_null_conversation_id_starts_a_conversation(self, alice_client):
        response = alice_client.post(CHAT, {"message": "hi", "conversation_id": None})

        assert response.status_code == 200
        assert Conversation.objects.count() == 1

    def test_an_unknown_conversation_is_404_and_nothing_is_stored(self, alice_client, db):
        response = alice_client.post(CHAT, {"message": "add milk", "conversation_id": 987654})

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert not Message.objects.exists()
        assert not Task.objects.exists()

    def test_non_json_is_415(self, alice_client, db):
        response = alice_client.generic(
            "POST", CHAT, "message=hi", content_type="application/x-www-form-urlencoded"
        )

        assert response.status_code == 415


class TestIsolation:
    def test_another_users_conversation_is_404(
        self, alice_client, make_conversation, make_message, other_user
    ):
        bobs = make_conversation(other_user, "Bob's chat")
        make_message(bobs, "Bob's secret")

        response = alice_client.post(CHAT, {"message": "hi", "conversation_id": bobs.pk})

        assert response.status_code == 404
        assert "Bob" not in response.content.decode()
        assert bobs.messages.count() == 1

    def test_the_assistant_sees_only_my_tasks(self, alice_client, make_task, user, other_user):
        make_task(user, "Alice's errand")
        make_task(other_user, "Bob's errand")

        data = alice_client.post(CHAT, {"message": "list my tasks"}).json()["data"]

        assert "Alice's errand" in data["response"]
        assert "Bob" not in data["response"]
        assert [task["title"] for task in data["tool_calls"][0]["result"]] == ["Alice's errand"]

    def test_anonymous_is_401(self, api_client, db):
        response = api_client.post(CHAT, {"message": "add milk"})

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        assert not Message.objects.exists()

    def test_a_cookie_write_from_another_origin_is_403(self, alice_client):
        alice_client.credentials(HTTP_ORIGIN="https://evil.example")

        assert alice_client.post(CHAT, {"message": "add milk"}).status_code == 403
        assert not Task.objects.exists()


class TestRoutes:
    @pytest.mark.parametrize("path", [CHAT, f"{CHAT}/"])
    def test_with_and_without_trailing_slash(self, alice_client, path):
        assert alice_client.post(path, {"message": "hi"}).status_code == 200

    def test_get_is_405(self, alice_client):
        assert alice_client.get(CHAT).status_code == 405

    def test_compatibility_prefix_with_my_id(self, alice_client, user):
        for path in (f"/api/{user.id}/chat", f"/api/{user.id}/chat/"):
            assert alice_client.post(path, {"message": "add buy milk"}).status_code == 200
        assert Task.objects.filter(user=user).count() == 2

    def test_compatibility_prefix_with_another_id_is_403(self, alice_client, other_user):
        response = alice_client.post(f"/api/{other_user.id}/chat", {"message": "add buy milk"})

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert not Task.objects.exists()
        assert not Message.objects.exists()

    def test_compatibility_prefix_anonymous_is_401_first(self, api_client, other_user):
        assert api_client.post(f"/api/{other_user.id}/chat", {"message": "hi"}).status_code == 401


class TestHistory:
    def test_the_assistant_reads_the_last_messages_only(
        self, alice_client, make_conversation, make_message, user, settings, monkeypatch
    ):
        settings.CHAT_HISTORY_LIMIT = 3
        conversation = make_conversation(user)
        for number in range(6):
            make_message(conversation, f"message {number}")
        seen = {}

        from chat.offline import OfflineAssistant

        original = OfflineAssistant.reply

        def spy(self, *, user, history, message):
            seen["history"] = [m.content for m in history]
            return original(self, user=user, history=history, message=message)

        monkeypatch.setattr(OfflineAssistant, "reply", spy)

        alice_client.post(CHAT, {"message": "hi", "conversation_id": conversation.pk})

        assert seen["history"] == ["message 3", "message 4", "message 5"]


class TestUnexpectedFailure:
    """Whatever goes wrong once the message is stored, the answer says where it was saved."""

    @pytest.fixture
    def broken_assistant(self, monkeypatch):
        from chat.offline import OfflineAssistant

        def reply(self, *, user, history, message):
            raise RuntimeError("a bug in the assistant")

        monkeypatch.setattr(OfflineAssistant, "reply", reply)

    def test_a_bug_is_a_500_that_names_the_conversation(self, alice_client, broken_assistant):
        response = alice_client.post(CHAT, {"message": "add buy milk"})

        assert response.status_code == 500
        conversation = Conversation.objects.get()
        assert response.json() == {
            "error": {
                "code": "server_error",
                "message": "An unexpected error occurred.",
                "details": {"conversation_id": conversation.pk},
            }
        }
        assert [(m.role, m.content) for m in conversation.messages.all()] == [("user", "add buy milk")]
        assert not Task.objects.exists()

    def test_the_traceback_is_logged_once(self, alice_client, broken_assistant, caplog):
        alice_client.post(CHAT, {"message": "add buy milk"})

        tracebacks = [record.exc_info[1] for record in caplog.records if record.exc_info]
        assert [str(error) for error in tracebacks] == ["a bug in the assistant"]

    def test_in_a_conversation_the_message_joins_it(
        self, alice_client, broken_assistant, make_conversation, make_message, user
    ):
        conversation = make_conversation(user, "Earlier")
        make_message(conversation, "hello")

        response = alice_client.post(CHAT, {"message": "add buy milk", "conversation_id": conversation.pk})

        assert response.status_code == 500
        assert response.json()["error"]["details"] == {"conversation_id": conversation.pk}
        assert list(conversation.messages.order_by("created_at", "id").values_list("content", flat=True)) == [
            "hello",
            "add buy milk",
        ]

    def test_the_conversation_stays_usable(self, alice_client, broken_assistant, monkeypatch):
        failed = alice_client.post(CHAT, {"message": "add buy milk"})
        monkeypatch.undo()
        conversation_id = failed.json()["error"]["details"]["conversation_id"]

        retry = alice_client.post(CHAT, {"message": "add buy milk", "conversation_id": conversation_id})

        assert retry.status_code == 200
        assert Message.objects.filter(conversation_id=conversation_id).count() == 3

    def test_the_database_going_away_keeps_its_status(self, alice_client, monkeypatch):
        from django.db import OperationalError

        from chat.offline import OfflineAssistant

        def reply(self, *, user, history, message):
            raise OperationalError("connection lost")

        monkeypatch.setattr(OfflineAssistant, "reply", reply)

        response = alice_client.post(CHAT, {"message": "add buy milk"})

        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "database_unavailable"
        assert error["details"] == {"conversation_id": Conversation.objects.get().pk}

    def test_an_error_before_the_conversation_is_known_names_none(self, alice_client, broken_assistant):
        response = alice_client.post(CHAT, {"message": "hi", "conversation_id": 987654})

        assert response.status_code == 404
        assert response.json()["error"]["details"] == {}


class TestAssistantFailure:
    def test_a_timeout_after_a_change_is_a_504_that_names_the_conversation_and_the_change(
        self, alice_client, monkeypatch
    ):
        from chat.offline import OfflineAssistant

        added = ToolCall("add_task", {"title": "Milk"}, {"task_id": 7, "status": "created", "title": "Milk"})

        def reply(self, *, user, history, message):
            raise AssistantTimeout(tool_calls=[added])

        monkeypatch.setattr(OfflineAssistant, "reply", reply)

        response = alice_client.post(CHAT, {"message": "add milk"})

        assert response.status_code == 504
        conversation = Conversation.objects.get()
        assert response.json() == {
            "error": {
                "code": "assistant_timeout",
                "message": "The assistant took too long to answer. Your message was saved; try again. "
                "It had already made 1 change: see details.tool_calls.",
                "details": {"conversation_id": conversation.pk, "tool_calls": [added.as_dict()]},
            }
        }
        assert [m.role for m in conversation.messages.order_by("created_at", "id")] == ["user", "assistant"]
