"""The offline assistant's sentences, built from the command and the tools' results only: a reply
says what happened, failures included, and nothing more."""

from datetime import datetime
from typing import Any

from agents.tools import LIST_LIMIT, ToolResult
from chat.dates import OutOfRange, describe_due, describe_reminder
from chat.offline.parser import Command
from todos.dates import EARLIEST_DUE, LATEST_DUE

GREETING = (
    "Hello! I can add, list, complete, reopen, rename and delete your tasks, and set reminders. "
    'Try "add buy milk tomorrow" or "what\'s pending?".'
)
THANKS = "You're welcome!"
HELP = (
    "I can manage your tasks. For example:\n"
    '- "add buy milk tomorrow at 5pm #shopping"\n'
    '  (also "high priority", "every week", "in the work category")\n'
    '- "what\'s pending?", "show completed tasks", "list high priority tasks"\n'
    '- "mark 3 done", "reopen 3", "delete task 4", "rename 2 to buy bread"\n'
    '- "make 2 high priority", "move 2 to friday", "clear the due date of 2"\n'
    '- "remind me tomorrow at 9 to call mum", "remind me about 2 on friday at 5pm", '
    '"clear the reminder of 2"\n'
    'You can name a task by its number or by its title: "delete the meeting task".'
)
NOT_UNDERSTOOD = (
    "Sorry, I didn't understand that, so I haven't changed anything. "
    'Try "add buy milk tomorrow", "what\'s pending?" or "mark 3 done", or say "help".'
)
NO_TITLE = 'What should the task be called? For example: "add buy milk tomorrow".'
NO_REMINDER_TIME = (
    'When should I set the reminder? For example: "remind me about task 3 tomorrow at 9". '
    "I haven't changed anything."
)

# Per action on one task: the verb of its failure, and how to ask for it by id.
VERBS = {"complete": "complete", "reopen": "reopen", "delete": "delete", "update": "change"}
EXAMPLES = {
    "complete": "mark {id} done",
    "reopen": "reopen task {id}",
    "delete": "delete task {id}",
    "update": "task {id}",
}
NOT_DONE = {
    "add": "I haven't added the task",
    "list": "I haven't listed any tasks",
    "update": "I haven't changed anything",
}


def out_of_range(command: Command, now: datetime) -> str:
    """The refusal of a date no task can be due at (or have a reminder at), with the limit it passed."""
    past = command.arguments["due"] is OutOfRange.PAST
    limit = describe_due(EARLIEST_DUE if past else LATEST_DUE, now)
    can = "a reminder can be" if command.arguments.get("of") == "remind_at" else "a task can be due"
    return (
        f"That date is too far in the {'past' if past else 'future'}: {can} {limit} "
        f"at the {'earliest' if past else 'latest'}. {NOT_DONE[command.arguments['asked']]}."
    )


def added(
    arguments: dict[str, Any], result: dict[str, Any], now: datetime, *, reminder_asked: bool = False
) -> str:
    """What add_task did with `arguments`; when a reminder was asked for without a time, how to give one."""
    if "error" in result:
        return f"I couldn't add that task: {result['error']}"
    details = []
    if due := arguments.get("due_date"):
        details.append(f"due {describe_due(datetime.fromisoformat(due), now)}")
    if remind_at := arguments.get("remind_at"):
        details.append(f"reminder {describe_reminder(datetime.fromisoformat(remind_at), now)}")
    if priority := arguments.get("priority"):
        details.append(f"{priority} priority")
    if recurrence := arguments.get("recurrence"):
        details.append(f"repeating {recurrence}")
    if category := arguments.get("category"):
        details.append(f"in {category}")
    if tags := arguments.get("tags"):
        details.append("tagged " + " ".join(f"#{tag}" for tag in tags))
    extra = f", {', '.join(details)}" if details else ""
    reply = f'Added task {result["task_id"]} "{result["title"]}"{extra}.'
    if reminder_asked and not remind_at:
        reply += (
            f' It has no reminder: say when, as in "remind me about task {result["task_id"]} tomorrow at 9".'
        )
    return reply


def listed(filters: dict[str, Any], tasks: ToolResult, now: datetime) -> str:
    """The tasks list_tasks found with `filters`, one a line, under a heading that says which."""
    if isinstance(tasks, dict):
        return f"I couldn't list your tasks: {tasks['error']}"
    kind = f"{filters['priority']}-priority " if filters.get("priority") else ""
    kind += f"{filters['status']} " if filters["status"] != "all" else ""
    about = ""
    if filters.get("overdue"):
        about = " that is overdue" if len(tasks) == 1 else " that are overdue"
    elif due_before := filters.get("due_before"):
        about = f" due by {describe_due(datetime.fromisoformat(due_before), now)}"
    if filters.get("search"):
        about += f' matching "{filters["search"]}"'
    if not tasks:
        return f"You have no {kind}tasks{about}."
    lines = [_line(task, now, show_done=filters["status"] == "all") for task in tasks]
    if len(tasks) == LIST_LIMIT:
        heading = f"Here are the first {LIST_LIMIT} of your {kind}tasks{about}:"
    else:
        heading = f"You have {len(tasks)} {kind}{'task' if len(tasks) == 1 else 'tasks'}{about}:"
    return "\n".join([heading, *lines])


def _line(task: dict[str, Any], now: datetime, *, show_done: bool) -> str:
    details = []
    if show_done and task["completed"]:
        details.append("done")
    if task["priority"] != "medium":
        details.append(f"{task['priority']} priority")
    if task["due_date"]:
        details.append(f"due {describe_due(datetime.fromisoformat(task['due_date']), now)}")
    if task["remind_at"] and not task["completed"]:
        details.append(f"reminder {describe_reminder(datetime.fromisoformat(task['remind_at']), now)}")
    if task["tags"]:
        details.append(" ".join(f"#{tag}" for tag in task["tags"]))
    return f"- #{task['id']} {task['title']}" + (f" ({', '.join(details)})" if details else "")


def search_failed(error: dict[str, Any]) -> str:
    return f"I couldn't look for that task: {error['error']}"


def no_match(words: str, among: str) -> str:
    """No task among those of status `among` (pending, completed, all) has `words` in its title."""
    return f"I couldn't find a {_status(among)}task matching \"{words}\", so I haven't changed anything."


def several_match(command: Command, words: str, among: str, candidates: list[dict[str, Any]]) -> str:
    """The question back when several tasks match: which one, and how to name it by its id."""
    shown = ", ".join(f'#{task["id"]} "{task["title"]}"' for task in candidates[:10])
    example = _example(command, candidates[0]["id"])
    return (
        f'{len(candidates)} {_status(among)}tasks match "{words}": {shown}. '
        f'Which one did you mean? Say, for example, "{example}".'
    )


def _status(among: str) -> str:
    return "" if among == "all" else f"{among} "


def _example(command: Command, task_id: int) -> str:
    changes = command.arguments
    if "title" in changes:
        return f"rename task {task_id} to {changes['title']}"
    if "priority" in changes:
        return f"make task {task_id} {changes['priority']} priority"
    if changes.get("due_date"):
        return f"move task {task_id} to {datetime.fromisoformat(changes['due_date']):%Y-%m-%d}"
    if "due_date" in changes:
        return f"clear the due date of task {task_id}"
    if remind_at := changes.get("remind_at"):
        return f"remind me about task {task_id} on {datetime.fromisoformat(remind_at):%Y-%m-%d at %H:%M}"
    if "remind_at" in changes:
        return f"clear the reminder of task {task_id}"
    return EXAMPLES[command.action].format(id=task_id)


def acted(command: Command, task_id: int, result: dict[str, Any], now: datetime) -> str:
    """What the tool did to task `task_id`: complete, reopen, delete or update it."""
    if "error" in result:
        return f"I couldn't {VERBS[command.action]} task {task_id}: {result['error']}"
    task = f'task {result["task_id"]} "{result["title"]}"'
    if command.action == "complete":
        after = f" Its next occurrence is task {result['next_task_id']}." if "next_task_id" in result else ""
        return f"Marked {task} as done.{after}"
    if command.action == "reopen":
        return f"Reopened {task}."
    if command.action == "delete":
        return f"Deleted {task}."
    changes = command.arguments
    if "title" in changes:
        return f'Renamed task {result["task_id"]} to "{result["title"]}".'
    if "priority" in changes:
        return f"Set {task} to {changes['priority']} priority."
    if changes.get("due_date"):
        when = describe_due(datetime.fromisoformat(changes["due_date"]), now)
        return f"Moved {task}: it is now due {when}."
    if changes.get("remind_at"):
        when = describe_reminder(datetime.fromisoformat(changes["remind_at"]), now)
        return f"Set a reminder on {task}: {when}."
    if "remind_at" in changes:
        return f"Removed the reminder of {task}."
    return f"Removed the due date of {task}."
