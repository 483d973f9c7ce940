"""GET /api/conversations[/{id}[/messages]] and DELETE /api/conversations/{id}, strictly per user."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Conversation, Message

CONVERSATIONS = "/api/conversations"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


@pytest.fixture
def chat_with_messages(make_conversation, make_message, user):
    conversation = make_conversation(user, "Shopping")
    make_message(conversation, "add milk")
    make_message(
        conversation,
        "Added task 1.",
        role="assistant",
        tool_calls=[
            {
                "tool_name": "add_task",
                "arguments": {"title": "milk"},
                "result": {"task_id": 1, "status": "created"},
            }
        ],
    )
    return conversation


class TestList:
    def test_newest_first_by_last_activity(self, alice_client, make_conversation, user):
        old = make_conversation(user, "Old")
        new = make_conversation(user, "New")
        Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now() + timedelta(minutes=1))

        assert ids(alice_client.get(CONVERSATIONS)) == [old.pk, new.pk]

    def test_a_new_message_moves_a_conversation_to_the_top(self, alice_client, make_conversation, user):
        first = make_conversation(user, "First")
        second = make_conversation(user, "Second")
        assert ids(alice_client.get(CONVERSATIONS)) == [second.pk, first.pk]

        alice_client.post("/api/chat", {"message": "hi", "conversation_id": first.pk})

        assert ids(alice_client.get(CONVERSATIONS)) == [first.pk, second.pk]

    def test_shape(self, alice_client, chat_with_messages):
        item = alice_client.get(CONVERSATIONS).json()["data"][0]

        assert set(item) == {"id", "title", "created_at", "updated_at"}
        assert item["title"] == "Shopping"

    def test_pagination(self, alice_client, make_conversation, user):
        for number in range(25):
            make_conversation(user, f"Chat {number}")

        first = alice_client.get(CONVERSATIONS)
        second = alice_client.get(f"{CONVERSATIONS}?page=2&page_size=20")

        assert first.json()["meta"] == {"page": 1, "page_size": 20, "total": 25, "pages": 2}
        assert len(second.json()["data"]) == 5
        assert alice_client.get(f"{CONVERSATIONS}?page=3").status_code == 404
        assert alice_client.get(f"{CONVERSATIONS}?page_size=101").status_code == 400

    def test_only_mine(self, alice_client, make_conversation, user, other_user):
        mine = make_conversation(user, "Mine")
        make_conversation(other_user, "Bob's")

        assert ids(alice_client.get(CONVERSATIONS)) == [mine.pk]


class TestOne:
    def test_retrieve(self, alice_client, chat_with_messages):
        response = alice_client.get(f"{CONVERSATIONS}/{chat_with_messages.pk}")

        assert response.json()["data"]["title"] == "Shopping"

    def test_messages_oldest_first_with_their_tool_calls(self, alice_client, chat_with_messages):
        data = alice_client.get(f"{CONVERSATIONS}/{chat_with_messages.pk}/messages").json()["data"]

        assert [(m["role"], m["content"]) for m in data] == [
            ("user", "add milk"),
            ("assistant", "Added task 1."),
        ]
        assert set(data[0]) == {"id", "conversation_id", "role", "content", "tool_calls", "created_at"}
        assert data[0]["conversation_id"] == chat_with_messages.pk
        assert data[0]["tool_calls"] is None
        assert data[1]["tool_calls"] == [
            {
                "tool_name": "add_task",
                "arguments": {"title": "milk"},
                "result": {"task_id": 1, "status": "created"},
            }
        ]

    def test_messages_are_paginated(self, alice_client, make_conversation, make_message, user):
        conversation = make_conversation(user)
        for number in range(30):
            make_message(conversation, f"m{number:02d}")

        response = alice_client.get(f"{CONVERSATIONS}/{conversation.pk}/messages?page=2&page_size=25")

        assert response.json()["meta"] == {"page": 2, "page_size": 25, "total": 30, "pages": 2}
        assert [m["content"] for m in response.json()["data"]] == [f"m{n}" for n in range(25, 30)]

    def test_messages_of_an_empty_conversation(self, alice_client, make_conversation, user):
        conversation = make_conversation(user)

        response = alice_client.get(f"{CONVERSATIONS}/{conversation.pk}/messages")

        assert response.json() == {"data": [], "meta": {"page": 1, "page_size": 20, "total": 0, "pages": 0}}

    def test_delete_removes_the_messages_too(self, alice_client, chat_with_messages):
        response = alice_client.delete(f"{CONVERSATIONS}/{chat_with_messages.pk}")

        assert response.status_code == 204
        assert not Conversation.objects.exists()
        assert not Message.objects.exists()

    def test_unknown_id_is_404(self, alice_client, db):
        assert alice_client.get(f"{CONVERSATIONS}/424242").status_code == 404
        assert alice_client.get(f"{CONVERSATIONS}/abc").status_code == 404

    def test_post_put_and_patch_are_not_allowed(self, alice_client, chat_with_messages):
        assert alice_client.post(CONVERSATIONS, {"title": "x"}).status_code == 405
        assert alice_client.put(f"{CONVERSATIONS}/{chat_with_messages.pk}", {"title": "x"}).status_code == 405
        assert (
            alice_client.patch(f"{CONVERSATIONS}/{chat_with_messages.pk}", {"title": "x"}).status_code == 405
        )


class TestIsolation:
    """Alice's conversation does not exist for Bob: 404 everywhere, and nothing changes."""

    @pytest.mark.parametrize(
        ("method", "suffix"), [("get", ""), ("delete", ""), ("get", "/messages"), ("get", "/messages/")]
    )
    def test_other_users_conversation_is_404(self, bob_client, chat_with_messages, method, suffix):
        response = getattr(bob_client, method)(f"{CONVERSATIONS}/{chat_with_messages.pk}{suffix}")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert "Shopping" not in response.content.decode()
        assert "add milk" not in response.content.decode()
        assert Message.objects.filter(conversation=chat_with_messages).count() == 2

    def test_chat_into_another_users_conversation_is_404(self, bob_client, chat_with_messages):
        response = bob_client.post("/api/chat", {"message": "hi", "conversation_id": chat_with_messages.pk})

        assert response.status_code == 404
        assert chat_with_messages.messages.count() == 2

    def test_bob_lists_none_of_alices(self, bob_client, chat_with_messages):
        assert bob_client.get(CONVERSATIONS).json()["meta"]["total"] == 0

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", CONVERSATIONS),
            ("get", f"{CONVERSATIONS}/1"),
            ("delete", f"{CONVERSATIONS}/1"),
            ("get", f"{CONVERSATIONS}/1/messages"),
        ],
    )
    def test_anonymous_is_401(self, api_client, db, method, path):
        assert getattr(api_client, method)(path).status_code == 401


class TestRoutes:
    @pytest.mark.parametrize("slash", ["", "/"])
    def test_every_route_with_and_without_trailing_slash(self, alice_client, chat_with_messages, slash):
        one = f"{CONVERSATIONS}/{chat_with_messages.pk}"

        assert alice_client.get(f"{CONVERSATIONS}{slash}").status_code == 200
        assert alice_client.get(f"{one}{slash}").status_code == 200
        assert alice_client.get(f"{one}/messages{slash}").status_code == 200
        assert alice_client.delete(f"{one}{slash}").status_code == 204

    def test_compatibility_prefix_with_my_id(self, alice_client, chat_with_messages, user):
        base = f"/api/{user.id}/conversations"

        assert alice_client.get(base).json()["meta"]["total"] == 1
        assert alice_client.get(f"{base}/{chat_with_messages.pk}/").status_code == 200
        assert alice_client.get(f"{base}/{chat_with_messages.pk}/messages").json()["meta"]["total"] == 2
        assert alice_client.delete(f"{base}/{chat_with_messages.pk}").status_code == 204

    def test_compatibility_prefix_with_another_id_is_403(self, alice_client, make_conversation, other_user):
        bobs = make_conversation(other_user)
        base = f"/api/{other_user.id}/conversations"

        for response in (
            alice_client.get(base),
            alice_client.get(f"{base}/{bobs.pk}"),
            alice_client.get(f"{base}/{bobs.pk}/messages"),
            alice_client.delete(f"{base}/{bobs.pk}"),
        ):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "permission_denied"
        assert Conversation.objects.filter(pk=bobs.pk).exists()

    def test_compatibility_prefix_anonymous_is_401_first(self, api_client, other_user):
        assert api_client.get(f"/api/{other_user.id}/conversations").status_code == 401


class TestQueryCount:
    """A page costs 2 queries (credential; page with its total), messages one more (the conversation)."""

    def test_conversations(self, alice_client, make_conversation, user, django_assert_max_num_queries):
        for number in range(60):
            make_conversation(user, f"Chat {number}")

        with django_assert_max_num_queries(2):
            response = alice_client.get(f"{CONVERSATIONS}?page_size=100")
        assert len(response.json()["data"]) == 60

    def test_messages(
        self, alice_client, make_conversation, make_message, user, django_assert_max_num_queries
    ):
        conversation = make_conversation(user)
        for number in range(60):
            make_message(
                conversation,
                f"m{number}",
                role="assistant",
                tool_calls=[{"tool_name": "list_tasks", "arguments": {}, "result": []}],
            )

        with django_assert_max_num_queries(3):
            response = alice_client.get(f"{CONVERSATIONS}/{conversation.pk}/messages?page_size=100")
        assert len(response.json()["data"]) == 60
