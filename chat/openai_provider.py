"""An assistant backed by any OpenAI-compatible chat completions API, with tool calling.

The loop: send the conversation and the tools' JSON schemas; run every tool call the model
makes (for the bound user) and send the results back; stop when the model answers in words.
CHAT_OPENAI_TIMEOUT bounds the whole reply, CHAT_MAX_TOOL_ROUNDS the rounds of tool calls.
"""

import json
import time
from functools import lru_cache
from typing import Any, cast

import openai
from django.conf import settings
from django.db import connection
from django.utils import timezone
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessage,
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCallUnion,
)
from openai.types.chat import ChatCompletionMessageToolCallUnionParam as ToolCallParam

from accounts.models import User
from agents.tools import is_error, run_tool, tool_schemas
from chat.assistant import AssistantTimeout, AssistantUnavailable, Reply, ToolCall, failures_report
from chat.models import Message, Role
from ironclad.untrusted import UntrustedInputError, parse_json, unsafe_text_reason

# What the model is told of a call past CHAT_MAX_TOOL_CALLS in one reply, which is not run.
NOT_RUN = {"error": "Not run: this reply has made as many tool calls as one may. Answer with what you have."}

SYSTEM_PROMPT = (
    "You are the task assistant of a todo app. You manage the signed-in user's tasks only, with the "
    "tools add_task, list_tasks, complete_task, delete_task and update_task. Tasks have integer ids. "
    "When the user names a task by its title, call list_tasks first and act on the one that matches; "
    "if several match, list them and ask which one. Never say you did something unless a tool result "
    "confirms it, and report a tool's error plainly. Answer briefly, in the user's language. "
    '"Remind me" sets a task\'s remind_at (null removes it), not its due date: "remind me tomorrow at '
    '9 to call mum" adds the task "call mum" with remind_at tomorrow at 09:00. '
    "Now: {now} ({weekday}), time zone {zone}; write due dates and reminders as ISO 8601."
)


def _tools() -> list[ChatCompletionFunctionToolParam]:
    # The tools' JSON schemas are the SDK's function tools; agents.tools builds them as plain JSON.
    return cast(list[ChatCompletionFunctionToolParam], tool_schemas())


@lru_cache(maxsize=4)
def _client(base_url: str, api_key: str) -> openai.OpenAI:
    # One client (and its connection pool) per configuration, reused across requests. No
    # automatic retries: the reply's own deadline bounds every attempt.
    return openai.OpenAI(
        base_url=base_url or None,
        # Local OpenAI-compatible servers (Ollama, llama.cpp, vLLM) need no key; the client wants one.
        api_key=api_key or "not-needed",
        max_retries=0,
    )


class OpenAIAssistant:
    def __init__(
        self, *, base_url: str, api_key: str, model: str, timeout: float, max_rounds: int, max_calls: int = 20
    ) -> None:
        self.client = _client(base_url, api_key)
        self.model = model
        self.timeout = timeout
        self.max_rounds = max_rounds
        self.max_calls = max_calls

    @classmethod
    def from_settings(cls) -> "OpenAIAssistant":
        return cls(
            base_url=settings.CHAT_OPENAI_BASE_URL,
            api_key=settings.CHAT_OPENAI_API_KEY,
            model=settings.CHAT_OPENAI_MODEL,
            timeout=settings.CHAT_OPENAI_TIMEOUT,
            max_rounds=settings.CHAT_MAX_TOOL_ROUNDS,
            max_calls=settings.CHAT_MAX_TOOL_CALLS,
        )

    def reply(self, *, user: User, history: list[Message], message: str) -> Reply:
        deadline = time.monotonic() + self.timeout
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": _system_prompt()},
            *_replayed(history),
            {"role": "user", "content": message},
        ]
        calls: list[ToolCall] = []
        with failures_report(calls):
            for _round in range(self.max_rounds + 1):
                answer = self._complete(messages, deadline)
                if not answer.tool_calls:
                    return Reply(content=answer.content or "", tool_calls=calls)
                if _round == self.max_rounds:
                    break
                messages.append(_assistant_turn(answer.content, answer.tool_calls))
                for requested in answer.tool_calls:
                    if len(calls) == self.max_calls:  # each call is recorded with the reply: bounded
                        messages.append(
                            {"role": "tool", "tool_call_id": requested.id, "content": json.dumps(NOT_RUN)}
                        )
                        continue
                    call = _run(user, requested)
                    calls.append(call)
                    messages.append(
                        {"role": "tool", "tool_call_id": requested.id, "content": json.dumps(call.result)}
                    )
        return Reply(content=_stopped(self.max_rounds, calls), tool_calls=calls)

    def _complete(self, messages: list[ChatCompletionMessageParam], deadline: float) -> ChatCompletionMessage:
        """The model's next answer (failures_report adds the tool calls made so far to a failure)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssistantTimeout()
        release_pooled_connection()
        try:
            completion = self.client.chat.completions.create(
                model=self.model, messages=messages, tools=_tools(), timeout=remaining
            )
        except openai.APITimeoutError as error:
            raise AssistantTimeout() from error
        except openai.OpenAIError as error:
            raise AssistantUnavailable() from error
        if not completion.choices:
            raise AssistantUnavailable()
        return completion.choices[0].message


def release_pooled_connection() -> None:
    """With psycopg's pool (DATABASE_POOL, or under ASGI), hand this thread's connection back
    while the model thinks, for other requests to use; the next query takes one again. A
    persistent connection stays open: reopening it would cost more than it saves."""
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()


def _system_prompt() -> str:
    now = timezone.localtime()
    return SYSTEM_PROMPT.format(
        now=now.isoformat(timespec="minutes"), weekday=f"{now:%A}", zone=timezone.get_current_timezone_name()
    )


def _run(user: User, requested: Any) -> ToolCall:
    """Run one requested tool; arguments that are not a JSON object go back to the model as an error."""
    function = getattr(requested, "function", None)
    if function is None:  # a "custom" (free-text) tool call: we offer function tools only
        return ToolCall(tool_name="", arguments={}, result={"error": "Only function tools are available."})
    # What a model sends is untrusted input like any request body (a user may steer it): the
    # same checks apply before it reaches the tools, the database or the stored message.
    name = function.name if not unsafe_text_reason(function.name) else ""
    try:
        arguments = parse_json((function.arguments or "{}").encode(), what="argument object")
    except UntrustedInputError as error:
        return ToolCall(tool_name=name, arguments={}, result={"error": f"{error} Nothing was done."})
    if not isinstance(arguments, dict):
        return ToolCall(
            tool_name=name,
            arguments={},
            result={"error": "The arguments must be a JSON object; nothing was done."},
        )
    return ToolCall(tool_name=name, arguments=arguments, result=run_tool(user, name, arguments))


def _assistant_turn(
    content: str | None, tool_calls: list[ChatCompletionMessageToolCallUnion]
) -> ChatCompletionAssistantMessageParam:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [cast(ToolCallParam, call.model_dump()) for call in tool_calls],
    }


def _replayed(history: list[Message]) -> list[ChatCompletionMessageParam]:
    """Stored messages as chat completions messages; an answer's tool calls are replayed before it."""
    replayed: list[ChatCompletionMessageParam] = []
    for message in history:
        if message.role == Role.USER:
            replayed.append({"role": "user", "content": message.content})
        elif message.role == Role.ASSISTANT:
            calls = message.tool_calls or []
            ids = [f"call_{message.pk}_{number}" for number in range(len(calls))]
            if calls:
                replayed.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": call_id,
                                "type": "function",
                                "function": {
                                    "name": call["tool_name"],
                                    "arguments": json.dumps(call["arguments"]),
                                },
                            }
                            for call_id, call in zip(ids, calls, strict=True)
                        ],
                    }
                )
                replayed.extend(
                    {"role": "tool", "tool_call_id": call_id, "content": json.dumps(call["result"])}
                    for call_id, call in zip(ids, calls, strict=True)
                )
            replayed.append({"role": "assistant", "content": message.content})
    return replayed


def _stopped(max_rounds: int, calls: list[ToolCall]) -> str:
    """The answer when the model still wanted tools after the last round: what was done, plainly."""
    done = [call for call in calls if not is_error(call.result)]
    failed = len(calls) - len(done)
    summary = "; ".join(call.summary() for call in done)
    return (
        f"I stopped after {max_rounds} rounds of actions without finishing. "
        + (f"Done so far: {summary}. " if done else "Nothing was changed. ")
        + (f"{failed} action(s) failed. " if failed else "")
        + "Please check your tasks and try again with a simpler request."
    )
