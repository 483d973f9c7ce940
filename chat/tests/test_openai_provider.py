"""The OpenAI-compatible provider end to end: real HTTP to a fake chat completions server on
127.0.0.1, real tool calls, and the failure envelopes (502, 504)."""

import dataclasses
import json

import pytest
from prometheus_client import REGISTRY, generate_latest

from agents import tools
from agents.tools import tool_schemas
from chat.models import Conversation, Message
from chat.tests.conftest import completion, tool_call
from todos.models import Task

CHAT = "/api/chat"


def stored_roles(conversation_id: int) -> list[str]:
    return list(Message.objects.filter(conversation_id=conversation_id).values_list("role", flat=True))


class TestToolCalling:
    def test_a_tool_call_round_trip_creates_a_task(self, alice_client, user, fake_llm, rest_etag):
        fake_llm.script = [
            completion(tool_calls=[tool_call("add_task", {"title": "Buy milk", "priority": "high"})]),
            completion("Added “Buy milk” with high priority."),
        ]

        response = alice_client.post(CHAT, {"message": "please remember the milk, it's urgent"})

        assert response.status_code == 200, response.content
        data = response.json()["data"]
        task = Task.objects.get()
        assert (task.user, task.title, task.priority) == (user, "Buy milk", "high")
        assert data["response"] == "Added “Buy milk” with high priority."
        assert data["tool_calls"] == [
            {
                "tool_name": "add_task",
                "arguments": {"title": "Buy milk", "priority": "high"},
                "result": {
                    "task_id": task.pk,
                    "status": "created",
                    "title": "Buy milk",
                    "etag": rest_etag(task),
                },
            }
        ]
        assert stored_roles(data["conversation_id"]) == ["user", "assistant"]

    def test_what_the_server_is_sent(self, alice_client, fake_llm):
        fake_llm.script = [
            completion(tool_calls=[tool_call("list_tasks", {"status": "pending"}, "call_abc")]),
            completion("Nothing pending."),
        ]

        alice_client.post(CHAT, {"message": "what's pending?"})

        first, second = fake_llm.requests
        assert first["path"] == "/v1/chat/completions"
        assert first["authorization"] == "Bearer test-key"
        assert first["body"]["model"] == "fake-model"
        assert first["body"]["tools"] == tool_schemas()
        assert first["body"]["messages"][0]["role"] == "system"
        assert first["body"]["messages"][-1] == {"role": "user", "content": "what's pending?"}
        assert second["body"]["messages"][-2]["tool_calls"][0]["id"] == "call_abc"
        assert second["body"]["messages"][-1] == {"role": "tool", "tool_call_id": "call_abc", "content": "[]"}

    def test_the_history_is_replayed_with_its_tool_calls(self, alice_client, fake_llm):
        fake_llm.script = [
            completion(tool_calls=[tool_call("add_task", {"title": "Milk"})]),
            completion("Added."),
            completion("It is task 1."),
        ]
        first = alice_client.post(CHAT, {"message": "add milk"}).json()["data"]

        alice_client.post(CHAT, {"message": "which id?", "conversation_id": first["conversation_id"]})

        replayed = fake_llm.messages()[1:]
        assert [m["role"] for m in replayed] == ["user", "assistant", "tool", "assistant", "user"]
        assert replayed[1]["tool_calls"][0]["function"] == {
            "name": "add_task",
            "arguments": '{"title": "Milk"}',
        }
        assert json.loads(replayed[2]["content"])["status"] == "created"
        assert replayed[3]["content"] == "Added."

    @pytest.mark.parametrize(
        ("name", "arguments", "words"),
        [
            ("add_task", '{"title": "x", "category": "a\\u0000b"}', "NUL"),
            ("add_task", '{"title": "\\ud800"}', "surrogate"),
            ("complete_task", '{"task_id": 1e400}', "too large"),
            ("complete_task", '{"task_id": "\u00b2"}', "Must be a whole number"),
            ("list_tasks", '{"search": ' + "[" * 40 + "]" * 40 + "}", "deeper than 32"),
        ],
    )
    def test_what_a_model_sends_is_checked_like_a_request_body(
        self, alice_client, fake_llm, name, arguments, words
    ):
        # A user may steer a model into sending these; each one answered 500 before.
        fake_llm.script = [completion(tool_calls=[tool_call(name, arguments)]), completion("Sorry.")]

        response = alice_client.post(CHAT, {"message": "do it"})

        assert response.status_code == 200, response.content
        assert words in response.json()["data"]["tool_calls"][0]["result"]["error"]

    def test_malformed_arguments_go_back_to_the_model_as_an_error(self, alice_client, fake_llm):
        fake_llm.script = [
            completion(tool_calls=[tool_call("add_task", '{"title": "Buy milk"')]),
            completion("Sorry, that did not work."),
        ]

        response = alice_client.post(CHAT, {"message": "add milk"})

        assert response.status_code == 200
        call = response.json()["data"]["tool_calls"][0]
        assert call["tool_name"] == "add_task"
        assert call["result"]["error"].startswith("The argument object is not valid JSON")
        sent_back = fake_llm.messages()[-1]
        assert sent_back["role"] == "tool"
        assert "not valid JSON" in json.loads(sent_back["content"])["error"]
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        ("name", "arguments", "error"),
        [
            ("add_task", "[1, 2]", "must be a JSON object"),
            ("add_task", {"title": "x", "user_id": "someone"}, "Unexpected arguments: user_id"),
            ("launch_rockets", {}, "There is no tool named"),
            ("add_task", {"title": ""}, "The task is invalid"),
        ],
    )
    def test_bad_calls_are_tool_errors(self, alice_client, fake_llm, name, arguments, error):
        fake_llm.script = [completion(tool_calls=[tool_call(name, arguments)]), completion("Sorry.")]

        data = alice_client.post(CHAT, {"message": "do it"}).json()["data"]

        assert error in data["tool_calls"][0]["result"]["error"]
        assert not Task.objects.exists()

    def test_a_tool_the_model_makes_up_is_counted_as_unknown(self, alice_client, fake_llm):
        made_up = {"caller": "chat", "tool": "unknown", "outcome": "refused"}
        before = REGISTRY.get_sample_value("ironclad_tool_calls_total", made_up) or 0
        fake_llm.script = [completion(tool_calls=[tool_call("launch_rockets", {})]), completion("Sorry.")]

        alice_client.post(CHAT, {"message": "do it"})

        assert REGISTRY.get_sample_value("ironclad_tool_calls_total", made_up) == before + 1
        assert 'tool="launch_rockets"' not in generate_latest().decode()

    def test_the_model_cannot_reach_another_users_task(self, alice_client, make_task, other_user, fake_llm):
        bobs = make_task(other_user, "Bob's secret")
        fake_llm.script = [
            completion(tool_calls=[tool_call("delete_task", {"task_id": bobs.pk})]),
            completion("I could not find that task."),
        ]

        data = alice_client.post(CHAT, {"message": f"delete task {bobs.pk}"}).json()["data"]

        assert data["tool_calls"][0]["result"] == {"error": f"Task {bobs.pk} was not found among your tasks."}
        assert Task.objects.filter(pk=bobs.pk).exists()

    def test_the_rounds_are_bounded(self, alice_client, make_task, user, fake_llm, settings):
        settings.CHAT_MAX_TOOL_ROUNDS = 2
        task = make_task(user, "Loop")
        fake_llm.script = [
            completion(tool_calls=[tool_call("complete_task", {"task_id": task.pk})]),
            completion(tool_calls=[tool_call("list_tasks", {})]),
            completion(tool_calls=[tool_call("delete_task", {"task_id": task.pk})]),
            completion("never asked for"),
        ]

        response = alice_client.post(CHAT, {"message": "loop"})

        assert response.status_code == 200
        data = response.json()["data"]
        assert len(fake_llm.requests) == 3
        assert [call["tool_name"] for call in data["tool_calls"]] == ["complete_task", "list_tasks"]
        assert data["response"].startswith("I stopped after 2 rounds")
        assert f"complete_task -> completed task {task.pk}" in data["response"]
        task.refresh_from_db()
        assert task.completed  # what the reply says was done, was done; the third round was not
        assert stored_roles(data["conversation_id"]) == ["user", "assistant"]

    def test_the_calls_of_one_reply_are_bounded(self, alice_client, user, fake_llm, settings):
        settings.CHAT_MAX_TOOL_CALLS = 3
        many = [tool_call("add_task", {"title": f"Task {n}"}, f"call_{n}") for n in range(5)]
        fake_llm.script = [completion(tool_calls=many), completion("Added three.")]

        data = alice_client.post(CHAT, {"message": "add five tasks"}).json()["data"]

        assert [call["arguments"]["title"] for call in data["tool_calls"]] == ["Task 0", "Task 1", "Task 2"]
        assert Task.objects.filter(user=user).count() == 3
        told = [message for message in fake_llm.messages() if message["role"] == "tool"]
        assert [json.loads(message["content"]).get("error", "")[:7] for message in told] == [""] * 3 + [
            "Not run"
        ] * 2
        assert Message.objects.get(role="assistant").tool_calls == data["tool_calls"]


class TestFailures:
    def test_a_provider_error_is_502_and_keeps_the_users_message(self, alice_client, fake_llm):
        fake_llm.script = [500]

        response = alice_client.post(CHAT, {"message": "add milk"})

        assert response.status_code == 502
        conversation = Conversation.objects.get()
        assert response.json() == {
            "error": {
                "code": "assistant_unavailable",
                "message": "The assistant is unavailable. Your message was saved; try again shortly.",
                "details": {"conversation_id": conversation.pk, "tool_calls": []},
            }
        }
        assert stored_roles(conversation.pk) == ["user"]
        assert conversation.messages.get().content == "add milk"

    def test_the_conversation_stays_usable_after_a_failure(self, alice_client, fake_llm):
        fake_llm.script = [503, completion("Here now.")]
        failed = alice_client.post(CHAT, {"message": "first"})
        conversation_id = failed.json()["error"]["details"]["conversation_id"]

        retry = alice_client.post(CHAT, {"message": "again", "conversation_id": conversation_id})

        assert retry.status_code == 200
        assert retry.json()["data"]["response"] == "Here now."
        assert stored_roles(conversation_id) == ["user", "user", "assistant"]
        assert [m["content"] for m in fake_llm.messages()[1:]] == ["first", "again"]

    def test_a_failure_after_a_tool_ran_says_what_was_done(self, alice_client, fake_llm, rest_etag):
        fake_llm.script = [completion(tool_calls=[tool_call("add_task", {"title": "Half done"})]), 500]

        response = alice_client.post(CHAT, {"message": "add half done"})

        assert response.status_code == 502
        task = Task.objects.get()  # the tool's write committed on its own
        applied = [
            {
                "tool_name": "add_task",
                "arguments": {"title": "Half done"},
                "result": {
                    "task_id": task.pk,
                    "status": "created",
                    "title": "Half done",
                    "etag": rest_etag(task),
                },
            }
        ]
        error = response.json()["error"]
        assert error["code"] == "assistant_unavailable"
        assert error["message"] == (
            "The assistant is unavailable. Your message was saved; try again shortly. "
            "It had already made 1 change: see details.tool_calls."
        )
        assert error["details"]["tool_calls"] == applied
        # The conversation says so too: an assistant message records the change it made.
        user_message, note = Conversation.objects.get().messages.order_by("created_at", "id")
        assert (user_message.role, user_message.content) == ("user", "add half done")
        assert note.role == "assistant"
        assert note.content == (
            "The assistant became unavailable before it finished this reply. "
            f"Done before that: add_task -> created task {task.pk}."
        )
        assert note.tool_calls == applied

    def test_a_failure_after_calls_that_changed_nothing_notes_it(self, alice_client, fake_llm):
        fake_llm.script = [
            completion(
                tool_calls=[tool_call("list_tasks", {}), tool_call("complete_task", {"task_id": 999}, "c2")]
            ),
            500,
        ]

        response = alice_client.post(CHAT, {"message": "finish task 999"})

        assert response.status_code == 502
        error = response.json()["error"]
        assert error["message"] == "The assistant is unavailable. Your message was saved; try again shortly."
        assert [call["tool_name"] for call in error["details"]["tool_calls"]] == [
            "list_tasks",
            "complete_task",
        ]
        # Recorded as the turn's reply, from which a kept answer too large to keep is read again.
        note = Message.objects.get(role="assistant")
        assert note.content.endswith("before it finished this reply. Nothing was changed.")
        assert note.tool_calls == error["details"]["tool_calls"]

    def test_an_unexpected_error_after_a_change_still_reports_it(
        self, alice_client, fake_llm, monkeypatch, rest_etag
    ):
        def broken(user, **arguments):
            raise RuntimeError("a bug in a tool")

        monkeypatch.setitem(
            tools.TOOLS, "delete_task", dataclasses.replace(tools.TOOLS["delete_task"], function=broken)
        )
        fake_llm.script = [
            completion(
                tool_calls=[
                    tool_call("add_task", {"title": "Kept"}),
                    tool_call("delete_task", {"task_id": 1}, "c2"),
                ]
            ),
        ]

        response = alice_client.post(CHAT, {"message": "add kept, then delete 1"})

        assert response.status_code == 502
        kept = Task.objects.get(title="Kept")
        calls = response.json()["error"]["details"]["tool_calls"]
        assert [call["result"] for call in calls] == [
            {"task_id": kept.pk, "status": "created", "title": "Kept", "etag": rest_etag(kept)}
        ]
        assert stored_roles(Conversation.objects.get().pk) == ["user", "assistant"]

    @pytest.mark.parametrize("status", [400, 401, 404, 429])
    def test_any_error_status_is_502(self, alice_client, fake_llm, status):
        fake_llm.script = [status]

        assert alice_client.post(CHAT, {"message": "hi"}).status_code == 502

    def test_an_unreachable_server_is_502(self, alice_client, db, settings):
        settings.CHAT_PROVIDER = "openai"
        settings.CHAT_OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens

        response = alice_client.post(CHAT, {"message": "hi"})

        assert response.status_code == 502
        assert Message.objects.get().role == "user"

    def test_a_timeout_is_504(self, alice_client, fake_llm, settings):
        settings.CHAT_OPENAI_TIMEOUT = 0.3
        fake_llm.script = [("sleep", 1.5)]

        response = alice_client.post(CHAT, {"message": "hi"})

        assert response.status_code == 504
        assert response.json()["error"]["code"] == "assistant_timeout"
        assert stored_roles(Conversation.objects.get().pk) == ["user"]

    def test_the_timeout_bounds_the_whole_reply(self, alice_client, fake_llm, settings):
        settings.CHAT_OPENAI_TIMEOUT = 1.0
        # Each answer alone is in time; together they are not.
        fake_llm.script = [
            ("sleep", 0.6, completion(tool_calls=[tool_call("add_task", {"title": "Slow"})])),
            ("sleep", 0.6, completion("Added.")),
        ]

        response = alice_client.post(CHAT, {"message": "add slow"})

        assert response.status_code == 504
        task = Task.objects.get(title="Slow")
        assert response.json()["error"]["details"]["tool_calls"][0]["result"]["task_id"] == task.pk
        assert stored_roles(Conversation.objects.get().pk) == ["user", "assistant"]
