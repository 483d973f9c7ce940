"""Per-account quotas (QUOTA_*): past one, 409 quota_exceeded with the limit in details, and nothing
is written; the REST API, bulk completions, the chat and its tools, and MCP all obey them."""

import json

import pytest
from django.test import Client

from accounts.tokens import mint_jwt
from agents.tools import run_tool
from chat.models import Conversation, Message
from tests.net import run_concurrently
from todos.models import Category, Task


@pytest.fixture
def quota(settings):
    def set_quota(**limits: int) -> None:
        settings.QUOTAS = {**settings.QUOTAS, **limits}

    return set_quota


def assert_quota_exceeded(response, resource: str, limit: int) -> None:
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"] == {"resource": resource, "limit": limit}
    assert f"limit of {limit} {resource}" in error["message"]


class TestTasks:
    def test_past_the_quota_a_create_is_refused_and_nothing_is_stored(self, alice_client, user, quota):
        quota(tasks=2)
        for title in ("A", "B"):
            assert alice_client.post("/api/tasks", {"title": title}).status_code == 201

        assert_quota_exceeded(alice_client.post("/api/tasks", {"title": "C"}), "tasks", 2)
        assert sorted(Task.objects.filter(user=user).values_list("title", flat=True)) == ["A", "B"]

    def test_deleting_makes_room(self, alice_client, user, quota, make_task):
        quota(tasks=1)
        task = make_task(user)
        assert alice_client.post("/api/tasks", {"title": "Late"}).status_code == 409

        assert alice_client.delete(f"/api/tasks/{task.pk}").status_code == 204
        assert alice_client.post("/api/tasks", {"title": "Late"}).status_code == 201

    def test_it_counts_each_users_own(self, alice_client, bob_client, user, other_user, quota, make_task):
        quota(tasks=1)
        make_task(user)

        assert bob_client.post("/api/tasks", {"title": "Bob's first"}).status_code == 201
        assert alice_client.post("/api/tasks", {"title": "Alice's second"}).status_code == 409

    def test_a_recurring_completion_needs_room_for_its_next_occurrence(
        self, alice_client, user, quota, make_task
    ):
        quota(tasks=2)
        daily = make_task(user, "Daily", recurrence="daily")
        make_task(user, "Other")

        assert_quota_exceeded(alice_client.patch(f"/api/tasks/{daily.pk}/complete"), "tasks", 2)
        daily.refresh_from_db()
        assert not daily.completed  # not completed without its next occurrence: the series goes on
        assert Task.objects.filter(user=user).count() == 2
        # Completing a task that does not recur creates nothing: no room needed.
        other = Task.objects.get(title="Other")
        assert alice_client.patch(f"/api/tasks/{other.pk}/complete").status_code == 200

    def test_a_bulk_completion_past_the_quota_changes_nothing(self, alice_client, user, quota, make_task):
        quota(tasks=3)
        ids = [make_task(user, f"Daily {n}", recurrence="daily").pk for n in range(2)]

        response = alice_client.post("/api/tasks/bulk", {"action": "complete", "ids": ids})

        assert_quota_exceeded(response, "tasks", 3)
        assert list(Task.objects.filter(user=user).values_list("completed", flat=True)) == [False, False]

    def test_the_chats_tools_obey_it(self, alice_client, user, quota, make_task):
        quota(tasks=1)
        make_task(user)

        result = run_tool(user, "add_task", {"title": "One too many"})

        assert result == {
            "error": "You have reached the limit of 1 tasks. Delete some to make room.",
            "details": {"resource": "tasks", "limit": 1},
        }
        answer = alice_client.post("/api/chat", {"message": "add buy milk"}).json()["data"]
        assert answer["tool_calls"][0]["result"]["details"] == {"resource": "tasks", "limit": 1}
        assert Task.objects.filter(user=user).count() == 1

    def test_mcp_tools_obey_it(self, user, quota, make_task):
        quota(tasks=1)
        make_task(user)
        message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "add_task", "arguments": {"title": "One too many"}},
        }

        response = Client().post(
            "/mcp",
            data=json.dumps(message),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}",
            HTTP_ACCEPT="application/json, text/event-stream",
        )

        result = response.json()["result"]
        assert result["isError"] is True
        assert (
            result["content"][0]["text"] == "You have reached the limit of 1 tasks. Delete some to make room."
        )
        assert Task.objects.filter(user=user).count() == 1

    @pytest.mark.postgres("concurrent requests are proven on PostgreSQL")
    @pytest.mark.django_db(transaction=True)
    def test_creates_at_the_same_moment_never_pass_it(self, client_for, user, quota, make_task):
        quota(tasks=5)
        for n in range(3):
            make_task(user, f"Existing {n}")

        statuses = run_concurrently(
            8, lambda: client_for(user).post("/api/tasks", {"title": "Race"}).status_code
        )

        assert sorted(statuses) == [201] * 2 + [409] * 6
        assert Task.objects.filter(user=user).count() == 5


class TestCategories:
    def test_past_the_quota_a_create_is_refused(self, alice_client, user, quota, make_category):
        quota(categories=1)
        make_category(user, "Work")

        assert_quota_exceeded(alice_client.post("/api/categories", {"name": "Home"}), "categories", 1)
        assert run_tool(user, "add_category", {"name": "Home"})["details"] == {
            "resource": "categories",
            "limit": 1,
        }
        assert list(Category.objects.filter(user=user).values_list("name", flat=True)) == ["Work"]


class TestChat:
    def test_a_new_conversation_past_the_quota_stores_nothing(self, alice_client, user, quota):
        quota(conversations=1)
        assert alice_client.post("/api/chat", {"message": "hello"}).status_code == 200

        response = alice_client.post("/api/chat", {"message": "a second conversation"})

        assert_quota_exceeded(response, "conversations", 1)
        assert Conversation.objects.filter(user=user).count() == 1
        assert Message.objects.filter(user=user, role="user").count() == 1

    def test_past_the_quota_of_messages_a_message_is_refused_and_nothing_is_stored(
        self, alice_client, user, quota
    ):
        quota(messages=2)
        first = alice_client.post("/api/chat", {"message": "hello"}).json()["data"]
        body = {"message": "again", "conversation_id": first["conversation_id"]}
        assert alice_client.post("/api/chat", body).status_code == 200

        refused = alice_client.post("/api/chat", body)
        new = alice_client.post("/api/chat", {"message": "elsewhere"})

        assert_quota_exceeded(refused, "messages", 2)
        assert_quota_exceeded(new, "messages", 2)
        # Only the messages the user sends count: each has one reply.
        assert Message.objects.filter(user=user).count() == 4
        assert Conversation.objects.filter(user=user).count() == 1
