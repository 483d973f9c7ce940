"""The offline assistant's turn: parse the message, run the tools it asks for, reply."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.utils import timezone

from accounts.models import User
from agents.tools import ToolResult, run_tool
from chat.assistant import Reply, ToolCall, failures_report
from chat.models import Message
from chat.offline import replies
from chat.offline.parser import Command, parse


@dataclass(frozen=True)
class TaskAction:
    """How an action on one task runs: its tool, and among which tasks its title is looked for."""

    tool: str
    among: str  # a list_tasks status: pending, completed or all


TASK_ACTIONS = {
    "complete": TaskAction("complete_task", among="pending"),
    "reopen": TaskAction("update_task", among="completed"),
    "delete": TaskAction("delete_task", among="all"),
    "update": TaskAction("update_task", among="all"),
}


class OfflineAssistant:
    """Answers from the command in the message alone; the history is not needed."""

    def reply(self, *, user: User, history: list[Message], message: str) -> Reply:
        turn = _Turn(user, timezone.localtime())
        with failures_report(turn.calls):
            content = turn.answer(parse(message, turn.now))
        return Reply(content=content, tool_calls=turn.calls)


class _Turn:
    """One reply: runs the tools for the user and keeps the calls for the record."""

    def __init__(self, user: User, now: datetime) -> None:
        self.user = user
        self.now = now
        self.calls: list[ToolCall] = []

    def call(self, name: str, **arguments: Any) -> ToolResult:
        result = run_tool(self.user, name, arguments)
        self.calls.append(ToolCall(tool_name=name, arguments=arguments, result=result))
        return result

    def write(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Call a tool that changes a task: its result is an object."""
        return cast(dict[str, Any], self.call(name, **arguments))

    def answer(self, command: Command) -> str:
        match command.action:
            case "greet":
                return replies.GREETING
            case "thanks":
                return replies.THANKS
            case "help":
                return replies.HELP
            case "unknown":
                return replies.NOT_UNDERSTOOD
            case "out_of_range":
                return replies.out_of_range(command, self.now)
            case "no_reminder_time":
                return replies.NO_REMINDER_TIME
            case "add" | "remind":
                if not command.arguments.get("title"):
                    return replies.NO_TITLE
                result = self.write("add_task", **command.arguments)
                return replies.added(
                    command.arguments, result, self.now, reminder_asked=command.action == "remind"
                )
            case "list":
                tasks = self.call("list_tasks", **command.arguments)
                return replies.listed(command.arguments, tasks, self.now)
            case _:
                return self.act(command)

    def act(self, command: Command) -> str:
        """complete, reopen, delete or update one task, named by id or found by its title."""
        action = TASK_ACTIONS[command.action]
        task_id = command.task_id
        if task_id is None:
            found = self.find(command, action.among)
            if isinstance(found, str):
                return found
            task_id = found
        arguments = {"task_id": task_id, **command.arguments}
        if command.action == "reopen":
            arguments["completed"] = False
        return replies.acted(command, task_id, self.write(action.tool, **arguments), self.now)

    def find(self, command: Command, among: str) -> int | str:
        """The id of the one task of status `among` whose title matches, or what to answer instead."""
        words = command.title or ""
        listed = self.call("list_tasks", status=among, search=words)
        if isinstance(listed, dict):
            return replies.search_failed(listed)
        exact = [task for task in listed if task["title"].casefold() == words.casefold()]
        in_title = [task for task in listed if words.casefold() in task["title"].casefold()]
        candidates = exact or in_title or listed
        if not candidates:
            return replies.no_match(words, among)
        if len(candidates) > 1:
            return replies.several_match(command, words, among, candidates)
        task_id: int = candidates[0]["id"]
        return task_id
