"""The default assistant: a deterministic English command interpreter that needs no network.

One command per message: greetings and help; "add buy milk tomorrow at 5pm #shop"; "what's
pending?"; "mark 3 done"; "reopen 3"; "delete task 4"; "rename 2 to buy bread"; "make 2 high
priority"; "move 2 to friday". A task is named by its id or by words of its title ("delete
the meeting task": list, then act; ask back when several tasks match). Every answer is built
from the tool results, so it says what happened, failures included, and nothing more.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import User
from chat.assistant import Reply, ToolCall, failures_report
from chat.dates import OutOfRange, describe_due, find_due
from chat.models import Message
from chat.tools import LIST_LIMIT, ToolResult, run_tool
from todos.dates import EARLIEST_DUE, LATEST_DUE

_I = re.IGNORECASE
_QUOTES = "\"'\u201c\u201d\u2018\u2019"  # straight and curly quotes

GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day))(?:\s+there)?\W*$", _I
)
THANKS = re.compile(r"^(?:thanks|thank\s+you|thx|cheers|ta)(?:\s+(?:a\s+lot|so\s+much|very\s+much))?\W*$", _I)
HELP = re.compile(r"^(?:help|\?+|commands|what\s+can\s+you\s+do|how\s+does\s+(?:this|it)\s+work)\b", _I)

_QUESTION = r"(?:what|which|who|how|anything|something)\b"
_DONE = r"(?:done|complete|completed|finished)"
_NOT_DONE = r"(?:not\s+done|undone|incomplete|not\s+complete|not\s+completed|unfinished|pending|open|to\s*do)"
REOPEN = [
    re.compile(rf"^(?:mark|set)\s+(?P<ref>.+?)\s+(?:as\s+)?{_NOT_DONE}$", _I),
    re.compile(r"^(?:reopen|re-open|uncomplete|unmark|uncheck|untick)\s+(?P<ref>.+)$", _I),
]
COMPLETE = [
    re.compile(rf"^(?:mark|set)\s+(?P<ref>.+?)\s+(?:as\s+)?{_DONE}$", _I),
    re.compile(r"^(?:check|tick)\s+off\s+(?P<ref>.+)$", _I),
    re.compile(r"^(?:check|tick)\s+(?P<ref>.+?)\s+off$", _I),
    re.compile(r"^(?:complete|finish|close|done\s+with)\s+(?P<ref>.+)$", _I),
    re.compile(r"^i(?:'ve|\s+have)?\s+(?:done|finished|completed)\s+(?P<ref>.+)$", _I),
    re.compile(rf"^(?!{_QUESTION})(?P<ref>.+?)\s+is\s+(?:now\s+)?{_DONE}$", _I),
]
CLEAR_DUE = re.compile(
    r"^(?:clear|remove|delete|drop)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|from|on|for)\s+(?P<ref>.+)$",
    _I,
)
RENAME = [
    re.compile(r"^(?:rename|retitle)\s+(?P<ref>.+?)\s+(?:to|as|into)\s+(?P<title>.+)$", _I),
    re.compile(r"^(?:change|set)\s+(?:the\s+)?(?:title|name)\s+of\s+(?P<ref>.+?)\s+to\s+(?P<title>.+)$", _I),
    re.compile(r"^(?:change|set)\s+(?P<ref>.+?)(?:'s)?\s+(?:title|name)\s+to\s+(?P<title>.+)$", _I),
]
_PRIORITY_WORD = r"(?P<priority>high|medium|normal|low|urgent|important)"
PRIORITY = [
    re.compile(
        rf"^(?:set|change|make|mark)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<ref>.+?)\s+(?:to|as)\s+"
        rf"{_PRIORITY_WORD}(?:\s+priority)?$",
        _I,
    ),
    re.compile(
        rf"^(?:set|change)\s+(?P<ref>.+?)(?:'s)?\s+priority\s+to\s+{_PRIORITY_WORD}(?:\s+priority)?$", _I
    ),
    re.compile(
        rf"^(?:make|mark|set)\s+(?P<ref>.+?)\s+(?:as\s+|to\s+)?(?:a\s+)?{_PRIORITY_WORD}(?:\s+priority)?$", _I
    ),
]
DUE = [
    re.compile(
        r"^(?:set|change|move)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|for|on)\s+(?P<ref>.+?)\s+to\s+(?P<when>.+)$",
        _I,
    ),
    re.compile(
        r"^(?:move|reschedule|postpone|push|defer|change)\s+(?P<ref>.+?)\s+(?:back\s+)?(?:to|until|till)\s+(?P<when>.+)$",
        _I,
    ),
    re.compile(rf"^(?!{_QUESTION})(?P<ref>.+?)\s+is\s+(?:now\s+)?due\s+(?P<when>.+)$", _I),
]
CHANGE_TO = re.compile(r"^change\s+(?P<ref>.+?)\s+to\s+(?P<title>.+)$", _I)
DELETE = re.compile(
    r"^(?:please\s+)?(?:delete|remove|erase|drop|cancel|trash|get\s+rid\s+of|forget(?:\s+about)?)\s+(?P<ref>.+)$",
    _I,
)
LIST_START = re.compile(
    r"^(?:please\s+)?(?:list|show|display|view|see|get|give|tell|what|what's|whats|which|how\s+many|do\s+i\s+have"
    r"|any|my|all|pending|completed|open)\b",
    _I,
)
LIST_TOPIC = re.compile(
    r"\b(?:tasks?|todos?|to-dos?|to\s+dos?|pending|completed|done|finished|open|outstanding|left|remaining"
    r"|to\s+do|list|agenda|due|overdue)\b",
    _I,
)
LIST_PENDING = re.compile(
    r"\b(?:pending|open|outstanding|left|remaining|to\s+do|incomplete|unfinished|not\s+(?:yet\s+)?(?:done|completed|finished))\b",
    _I,
)
LIST_COMPLETED = re.compile(r"\b(?:completed|done|finished)\b", _I)
LIST_DUE = re.compile(r"\bdue\s+(?P<when>.+)$", _I)
LIST_SEARCH = re.compile(r"\s+(?:about|matching|containing|mentioning|called|named)\s+(?P<search>.+)$", _I)
ADD = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:add|create|new|put|schedule|remember\s+to|remind\s+me\s+to"
    r"|i\s+need\s+to|i\s+have\s+to|i\s+must|todo:?|task:)(?:\s+|$)(?P<rest>.*)$",
    _I,
)

# Words of an "add" message that describe the task rather than name it.
PRIORITY_PHRASES = [
    (re.compile(r"\b(?:with\s+|at\s+|as\s+)?(?:a\s+)?(?P<p>high|medium|normal|low)[- ]priority\b", _I), None),
    (re.compile(r"\bpriority[:\s]+(?P<p>high|medium|normal|low)\b", _I), None),
    (re.compile(r"\b(?:urgent(?:ly)?|asap|important)\b", _I), "high"),
]
RECURRENCE_PHRASES = [
    (re.compile(r"\b(?:every\s*day|daily|each\s+day)\b", _I), "daily"),
    (re.compile(r"\b(?:every\s*week|weekly|each\s+week)\b", _I), "weekly"),
    (re.compile(r"\b(?:every\s*month|monthly|each\s+month)\b", _I), "monthly"),
]
EVERY_WEEKDAY = re.compile(
    r"\bevery\s+(?P<day>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", _I
)
QUOTED_CATEGORY_PHRASES = [
    re.compile(
        r"\b(?:(?:in|under|to|for)\s+(?:the\s+|my\s+)?)?category[:\s]+[\"“](?P<name>[^\"”]+)[\"”]", _I
    ),
    re.compile(r"\b(?:in|under|to|for)\s+(?:the\s+|my\s+)?[\"“](?P<name>[^\"”]+)[\"”]\s+category\b", _I),
]
CATEGORY_PHRASES = [
    re.compile(r"\b(?:(?:in|under|to|for)\s+(?:the\s+|my\s+)?)?category[:\s]+(?P<name>[\w-]+)", _I),
    re.compile(r"\b(?:in|under|to|for)\s+(?:the\s+|my\s+)?(?P<name>[\w-]+)\s+category\b", _I),
]
TAG = re.compile(r"(?<![\w&])#(?P<tag>[A-Za-z][\w-]*)")
DESCRIPTION = re.compile(
    r"\s+(?:with\s+(?:a\s+)?(?:note|description)|note:|description:)\s+(?P<text>.+)$", _I
)
LEADING_FILLER = re.compile(
    r"^(?:(?:(?:a|an|the)\s+)?(?:new\s+)?(?:task|todo|to-do|item|reminder)\b)?\s*(?:to\b|called\b|named\b|titled\b|:|-)?\s*",
    _I,
)
TRAILING_FILLER = re.compile(
    r"(?:\s+(?:to|on|in)\s+(?:my\s+|the\s+)?(?:list|tasks|todos|to-dos|todo\s+list|to-do\s+list))?[\s,;:.-]*$",
    _I,
)
ID_REFERENCE = re.compile(r"^(?:the\s+)?(?:task|todo|item)?\s*(?:number|no\.?)?\s*#?(?P<id>\d+)$", _I)

PRIORITY_WORDS = {"urgent": "high", "important": "high", "normal": "medium"}


@dataclass(frozen=True)
class Command:
    """What a message asks for. A task is named by `task_id` or by words of its `title`."""

    action: str  # greet, thanks, help, add, list, complete, reopen, delete, update, out_of_range, unknown
    task_id: int | None = None
    title: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


def parse(message: str, now: datetime) -> Command:
    """The command in `message`; dates are read relative to `now`."""
    text = " ".join(message.split()).rstrip(" .!?")
    if GREETING.match(text):
        return Command("greet")
    if THANKS.match(text):
        return Command("thanks")
    if HELP.match(text):
        return Command("help")

    for pattern in REOPEN:
        if match := pattern.match(text):
            return _about_task("reopen", match["ref"])
    for pattern in COMPLETE:
        if match := pattern.match(text):
            return _about_task("complete", match["ref"])
    if match := CLEAR_DUE.match(text):
        return _about_task("update", match["ref"], due_date=None)
    for pattern in RENAME:
        if match := pattern.match(text):
            return _about_task("update", match["ref"], title=match["title"].strip(_QUOTES))
    for pattern in PRIORITY:
        if match := pattern.match(text):
            priority = match["priority"].lower()
            return _about_task("update", match["ref"], priority=PRIORITY_WORDS.get(priority, priority))
    for pattern in DUE:
        if (match := pattern.match(text)) and (moved := _due_only(match["when"], now)):
            if isinstance(moved, OutOfRange):
                return _out_of_range("update", moved)
            return _about_task("update", match["ref"], due_date=moved.isoformat())
    if match := CHANGE_TO.match(text):
        return _about_task("update", match["ref"], title=match["title"].strip(_QUOTES))
    if match := DELETE.match(text):
        return _about_task("delete", match["ref"])
    if match := ADD.match(text):
        return _unless_out_of_range("add", _new_task(match["rest"], now), "due_date")
    if LIST_START.match(text) and LIST_TOPIC.search(text):
        return _unless_out_of_range("list", _list_filters(text, now), "due_before")
    return Command("unknown")


def _out_of_range(action: str, due: OutOfRange) -> Command:
    """A refusal: the `action` asked for names a date no task can be due at."""
    return Command("out_of_range", arguments={"asked": action, "due": due})


def _unless_out_of_range(action: str, arguments: dict[str, Any], date_argument: str) -> Command:
    due = arguments.get(date_argument)
    return _out_of_range(action, due) if isinstance(due, OutOfRange) else Command(action, arguments=arguments)


def _about_task(action: str, reference: str, **arguments: Any) -> Command:
    reference = reference.strip().strip(_QUOTES)
    if match := ID_REFERENCE.match(reference):
        return Command(action, task_id=int(match["id"]), arguments=arguments)
    title = re.sub(r"^(?:the|my|a|an|that|this)\s+", "", reference, flags=_I)
    title = re.sub(r"^(?:task|todo|to-do|item|one)\s+(?:called|named|titled|about)\s+", "", title, flags=_I)
    title = re.sub(r"\s+(?:task|todo|to-do|item|one)$", "", title, flags=_I).strip().strip(_QUOTES)
    if not title:
        return Command("unknown")
    return Command(action, title=title, arguments=arguments)


def _due_only(words: str, now: datetime) -> datetime | OutOfRange | None:
    """A due date (or OutOfRange) when `words` are nothing but one ("friday at 5pm"), else None."""
    due, rest = find_due(words, now)
    return due if due is not None and not rest.strip(" ,.") else None


def _new_task(text: str, now: datetime) -> dict[str, Any]:
    """The add_task arguments an "add ..." message gives; whatever no rule claims is the title."""
    arguments: dict[str, Any] = {}
    for pattern in QUOTED_CATEGORY_PHRASES:
        if match := pattern.search(text):
            arguments["category"] = match["name"].strip()
            text = _cut(text, match)
            break
    quoted = re.search(r"[\"“](?P<title>[^\"”]+)[\"”]", text)
    if quoted:  # a quoted title is taken as it is; the words around it still count
        text = f"{text[: quoted.start()]} {text[quoted.end() :]}"
    if match := DESCRIPTION.search(text):
        arguments["description"] = match["text"].strip()
        text = text[: match.start()]
    if tags := [match["tag"] for match in TAG.finditer(text)]:
        arguments["tags"] = list(dict.fromkeys(tags))
        text = TAG.sub(" ", text)
    for pattern, priority in PRIORITY_PHRASES:
        if match := pattern.search(text):
            word = priority or match["p"].lower()
            arguments["priority"] = PRIORITY_WORDS.get(word, word)
            text = _cut(text, match)
            break
    if match := EVERY_WEEKDAY.search(text):  # "every friday": weekly, first due on Friday
        arguments["recurrence"] = "weekly"
        text = f"{text[: match.start()]} {match['day']} {text[match.end() :]}"
    for pattern, recurrence in RECURRENCE_PHRASES:
        if "recurrence" in arguments:
            break
        if match := pattern.search(text):
            arguments["recurrence"] = recurrence
            text = _cut(text, match)
            break
    for pattern in CATEGORY_PHRASES:
        if "category" in arguments:
            break
        if match := pattern.search(text):
            arguments["category"] = match["name"].strip()
            text = _cut(text, match)
            break
    due, text = find_due(text, now)
    if due is not None:
        arguments["due_date"] = due if isinstance(due, OutOfRange) else due.isoformat()
    title = (
        quoted["title"].strip() if quoted else TRAILING_FILLER.sub("", LEADING_FILLER.sub("", text.strip()))
    )
    return {"title": " ".join(title.split()), **arguments}


def _cut(text: str, match: re.Match) -> str:
    return f"{text[: match.start()]} {text[match.end() :]}"


def _list_filters(text: str, now: datetime) -> dict[str, Any]:
    filters: dict[str, Any] = {"status": "all"}
    if match := LIST_SEARCH.search(text):
        filters["search"] = match["search"].strip().strip(_QUOTES)
        text = text[: match.start()]
    if re.search(r"\boverdue\b", text, _I):
        filters.update(status="pending", overdue=True)
    elif (match := LIST_DUE.search(text)) and (due := _due_only(match["when"], now)):
        filters.update(status="pending", due_before=due if isinstance(due, OutOfRange) else due.isoformat())
        text = text[: match.start()]
    if LIST_PENDING.search(text):
        filters["status"] = "pending"
    elif LIST_COMPLETED.search(text):
        filters["status"] = "completed"
    if match := re.search(
        r"\b(?P<p>high|medium|normal|low)[- ]priority\b|\b(?P<urgent>urgent|important)\b", text, _I
    ):
        word = (match["p"] or "high").lower()
        filters["priority"] = PRIORITY_WORDS.get(word, word)
    return filters


HELP_TEXT = (
    "I can manage your tasks. For example:\n"
    '- "add buy milk tomorrow at 5pm #shopping"\n'
    '  (also "high priority", "every week", "in the work category")\n'
    '- "what\'s pending?", "show completed tasks", "list high priority tasks"\n'
    '- "mark 3 done", "reopen 3", "delete task 4", "rename 2 to buy bread"\n'
    '- "make 2 high priority", "move 2 to friday", "clear the due date of 2"\n'
    'You can name a task by its number or by its title: "delete the meeting task".'
)

# Per action: the tool, which tasks a title is looked for among, and the words of the reply.
ACTIONS = {
    "complete": {
        "tool": "complete_task",
        "status": "pending",
        "verb": "complete",
        "example": "mark {id} done",
    },
    "reopen": {"tool": "update_task", "status": "completed", "verb": "reopen", "example": "reopen task {id}"},
    "delete": {"tool": "delete_task", "status": "all", "verb": "delete", "example": "delete task {id}"},
    "update": {"tool": "update_task", "status": "all", "verb": "change", "example": "task {id}"},
}


class OfflineAssistant:
    """Answers from the command in the message alone; the history is not needed."""

    def reply(self, *, user: User, history: list[Message], message: str) -> Reply:
        turn = _Turn(user, timezone.localtime())
        with failures_report(turn.calls):
            command = parse(message, turn.now)
            if command.action in ACTIONS:
                content = turn.act(command)
            else:
                content = getattr(turn, f"on_{command.action}")(command)
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

    def on_greet(self, command: Command) -> str:
        return (
            "Hello! I can add, list, complete, reopen, rename and delete your tasks. "
            'Try "add buy milk tomorrow" or "what\'s pending?".'
        )

    def on_thanks(self, command: Command) -> str:
        return "You're welcome!"

    def on_help(self, command: Command) -> str:
        return HELP_TEXT

    def on_out_of_range(self, command: Command) -> str:
        past = command.arguments["due"] is OutOfRange.PAST
        limit = describe_due(EARLIEST_DUE if past else LATEST_DUE, self.now)
        outcome = {
            "add": "I haven't added the task",
            "list": "I haven't listed any tasks",
            "update": "I haven't changed anything",
        }[command.arguments["asked"]]
        return (
            f"That date is too far in the {'past' if past else 'future'}: a task can be due {limit} "
            f"at the {'earliest' if past else 'latest'}. {outcome}."
        )

    def on_unknown(self, command: Command) -> str:
        return (
            "Sorry, I didn't understand that, so I haven't changed anything. "
            'Try "add buy milk tomorrow", "what\'s pending?" or "mark 3 done", or say "help".'
        )

    def on_add(self, command: Command) -> str:
        arguments = command.arguments
        if not arguments.get("title"):
            return 'What should the task be called? For example: "add buy milk tomorrow".'
        result = self.call("add_task", **arguments)
        if "error" in result:
            return f"I couldn't add that task: {result['error']}"
        details = []
        if due := arguments.get("due_date"):
            details.append(f"due {describe_due(datetime.fromisoformat(due), self.now)}")
        if priority := arguments.get("priority"):
            details.append(f"{priority} priority")
        if recurrence := arguments.get("recurrence"):
            details.append(f"repeating {recurrence}")
        if category := arguments.get("category"):
            details.append(f"in {category}")
        if tags := arguments.get("tags"):
            details.append("tagged " + " ".join(f"#{tag}" for tag in tags))
        extra = f", {', '.join(details)}" if details else ""
        return f'Added task {result["task_id"]} "{result["title"]}"{extra}.'

    def on_list(self, command: Command) -> str:
        filters = command.arguments
        tasks = self.call("list_tasks", **filters)
        if isinstance(tasks, dict):
            return f"I couldn't list your tasks: {tasks['error']}"
        kind = f"{filters['priority']}-priority " if filters.get("priority") else ""
        kind += f"{filters['status']} " if filters["status"] != "all" else ""
        about = ""
        if filters.get("overdue"):
            about = " that are overdue"
        elif due_before := filters.get("due_before"):
            about = f" due by {describe_due(datetime.fromisoformat(due_before), self.now)}"
        if filters.get("search"):
            about += f' matching "{filters["search"]}"'
        if not tasks:
            return f"You have no {kind}tasks{about}."
        lines = [self._line(task, show_done=filters["status"] == "all") for task in tasks]
        if len(tasks) == LIST_LIMIT:
            heading = f"Here are the first {LIST_LIMIT} of your {kind}tasks{about}:"
        else:
            heading = f"You have {len(tasks)} {kind}{'task' if len(tasks) == 1 else 'tasks'}{about}:"
        return "\n".join([heading, *lines])

    def _line(self, task: dict[str, Any], *, show_done: bool) -> str:
        details = []
        if show_done and task["completed"]:
            details.append("done")
        if task["priority"] != "medium":
            details.append(f"{task['priority']} priority")
        if task["due_date"]:
            details.append(f"due {describe_due(datetime.fromisoformat(task['due_date']), self.now)}")
        if task["tags"]:
            details.append(" ".join(f"#{tag}" for tag in task["tags"]))
        return f"- #{task['id']} {task['title']}" + (f" ({', '.join(details)})" if details else "")

    def act(self, command: Command) -> str:
        """complete, reopen, delete or update one task, named by id or found by its title."""
        action = ACTIONS[command.action]
        task_id = command.task_id
        if task_id is None:
            found = self._find(command, action)
            if isinstance(found, str):
                return found
            task_id = found
        arguments = {"task_id": task_id, **command.arguments}
        if command.action == "reopen":
            arguments["completed"] = False
        result = self.call(action["tool"], **arguments)
        if "error" in result:
            return f"I couldn't {action['verb']} task {task_id}: {result['error']}"
        return self._done(command, result)

    def _find(self, command: Command, action: dict[str, str]) -> int | str:
        """The id of the one task whose title matches, or what to answer instead."""
        words = command.title or ""
        listed = self.call("list_tasks", status=action["status"], search=words)
        if isinstance(listed, dict):
            return f"I couldn't look for that task: {listed['error']}"
        exact = [task for task in listed if task["title"].casefold() == words.casefold()]
        in_title = [task for task in listed if words.casefold() in task["title"].casefold()]
        candidates = exact or in_title or listed
        among = "" if action["status"] == "all" else f"{action['status']} "
        if not candidates:
            return f"I couldn't find a {among}task matching \"{words}\", so I haven't changed anything."
        if len(candidates) > 1:
            shown = ", ".join(f'#{task["id"]} "{task["title"]}"' for task in candidates[:10])
            example = self._example(command, action, candidates[0]["id"])
            return (
                f'{len(candidates)} {among}tasks match "{words}": {shown}. '
                f'Which one did you mean? Say, for example, "{example}".'
            )
        return candidates[0]["id"]

    def _example(self, command: Command, action: dict[str, str], task_id: int) -> str:
        changes = command.arguments
        if "title" in changes:
            return f"rename task {task_id} to {changes['title']}"
        if "priority" in changes:
            return f"make task {task_id} {changes['priority']} priority"
        if changes.get("due_date"):
            return f"move task {task_id} to {datetime.fromisoformat(changes['due_date']):%Y-%m-%d}"
        if "due_date" in changes:
            return f"clear the due date of task {task_id}"
        return action["example"].format(id=task_id)

    def _done(self, command: Command, result: dict[str, Any]) -> str:
        task = f'task {result["task_id"]} "{result["title"]}"'
        if command.action == "complete":
            after = (
                f" Its next occurrence is task {result['next_task_id']}." if "next_task_id" in result else ""
            )
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
            when = describe_due(datetime.fromisoformat(changes["due_date"]), self.now)
            return f"Moved {task}: it is now due {when}."
        return f"Removed the due date of {task}."
