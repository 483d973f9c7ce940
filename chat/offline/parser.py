"""A message as a Command: what it asks for, which task, and the tool arguments its words give."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chat.dates import OutOfRange, find_due
from chat.offline import grammar


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
    if grammar.GREETING.match(text):
        return Command("greet")
    if grammar.THANKS.match(text):
        return Command("thanks")
    if grammar.HELP.match(text):
        return Command("help")

    for pattern in grammar.REOPEN:
        if match := pattern.match(text):
            return _about_task("reopen", match["ref"])
    for pattern in grammar.COMPLETE:
        if match := pattern.match(text):
            return _about_task("complete", match["ref"])
    if match := grammar.CLEAR_DUE.match(text):
        return _about_task("update", match["ref"], due_date=None)
    for pattern in grammar.RENAME:
        if match := pattern.match(text):
            return _about_task("update", match["ref"], title=match["title"].strip(grammar.QUOTES))
    for pattern in grammar.PRIORITY:
        if match := pattern.match(text):
            priority = match["priority"].lower()
            return _about_task(
                "update", match["ref"], priority=grammar.PRIORITY_WORDS.get(priority, priority)
            )
    for pattern in grammar.DUE:
        if (match := pattern.match(text)) and (moved := _due_only(match["when"], now)):
            if isinstance(moved, OutOfRange):
                return _out_of_range("update", moved)
            return _about_task("update", match["ref"], due_date=moved.isoformat())
    if match := grammar.CHANGE_TO.match(text):
        return _about_task("update", match["ref"], title=match["title"].strip(grammar.QUOTES))
    if match := grammar.DELETE.match(text):
        return _about_task("delete", match["ref"])
    if match := grammar.ADD.match(text):
        return _unless_out_of_range("add", _new_task(match["rest"], now), "due_date")
    if grammar.LIST_START.match(text) and grammar.LIST_TOPIC.search(text):
        return _unless_out_of_range("list", _list_filters(text, now), "due_before")
    return Command("unknown")


def _out_of_range(action: str, due: OutOfRange) -> Command:
    """A refusal: the `action` asked for names a date no task can be due at."""
    return Command("out_of_range", arguments={"asked": action, "due": due})


def _unless_out_of_range(action: str, arguments: dict[str, Any], date_argument: str) -> Command:
    due = arguments.get(date_argument)
    return _out_of_range(action, due) if isinstance(due, OutOfRange) else Command(action, arguments=arguments)


def _about_task(action: str, reference: str, **arguments: Any) -> Command:
    reference = reference.strip().strip(grammar.QUOTES)
    if match := grammar.ID_REFERENCE.match(reference):
        return Command(action, task_id=int(match["id"]), arguments=arguments)
    title = grammar.TITLE_ARTICLE.sub("", reference)
    title = grammar.TITLE_CALLED.sub("", title)
    title = grammar.TITLE_NOUN.sub("", title).strip().strip(grammar.QUOTES)
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
    for pattern in grammar.QUOTED_CATEGORY_PHRASES:
        if match := pattern.search(text):
            arguments["category"] = match["name"].strip()
            text = _cut(text, match)
            break
    quoted = grammar.QUOTED_TITLE.search(text)
    if quoted:  # a quoted title is taken as it is; the words around it still count
        text = _cut(text, quoted)
    if match := grammar.DESCRIPTION.search(text):
        arguments["description"] = match["text"].strip()
        text = text[: match.start()]
    if tags := [match["tag"] for match in grammar.TAG.finditer(text)]:
        arguments["tags"] = list(dict.fromkeys(tags))
        text = grammar.TAG.sub(" ", text)
    for pattern, priority in grammar.PRIORITY_PHRASES:
        if match := pattern.search(text):
            word = priority or match["p"].lower()
            arguments["priority"] = grammar.PRIORITY_WORDS.get(word, word)
            text = _cut(text, match)
            break
    if match := grammar.EVERY_WEEKDAY.search(text):  # "every friday": weekly, first due on Friday
        arguments["recurrence"] = "weekly"
        text = f"{text[: match.start()]} {match['day']} {text[match.end() :]}"
    for pattern, recurrence in grammar.RECURRENCE_PHRASES:
        if "recurrence" in arguments:
            break
        if match := pattern.search(text):
            arguments["recurrence"] = recurrence
            text = _cut(text, match)
            break
    for pattern in grammar.CATEGORY_PHRASES:
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
        quoted["title"].strip()
        if quoted
        else grammar.TRAILING_FILLER.sub("", grammar.LEADING_FILLER.sub("", text.strip()))
    )
    return {"title": " ".join(title.split()), **arguments}


def _cut(text: str, match: re.Match[str]) -> str:
    return f"{text[: match.start()]} {text[match.end() :]}"


def _list_filters(text: str, now: datetime) -> dict[str, Any]:
    """The list_tasks arguments a question about the list gives."""
    filters: dict[str, Any] = {"status": "all"}
    if match := grammar.LIST_SEARCH.search(text):
        filters["search"] = match["search"].strip().strip(grammar.QUOTES)
        text = text[: match.start()]
    if grammar.LIST_OVERDUE.search(text):
        filters.update(status="pending", overdue=True)
    elif (match := grammar.LIST_DUE.search(text)) and (due := _due_only(match["when"], now)):
        filters.update(status="pending", due_before=due if isinstance(due, OutOfRange) else due.isoformat())
        text = text[: match.start()]
    if grammar.LIST_PENDING.search(text):
        filters["status"] = "pending"
    elif grammar.LIST_COMPLETED.search(text):
        filters["status"] = "completed"
    if match := grammar.LIST_PRIORITY.search(text):
        word = (match["p"] or "high").lower()
        filters["priority"] = grammar.PRIORITY_WORDS.get(word, word)
    return filters
