"""A message as a Command: what it asks for, which task, and the tool arguments its words give."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chat.dates import OutOfRange, find_due
from chat.offline import grammar
from todos.dates import REMINDER_TIME

# The most words a reminder's time takes, before or after the task's ("on the 1st of december 2026
# at 9:30 am"): where they end is looked for among so many words only.
MAX_WHEN_WORDS = 10


@dataclass(frozen=True)
class Command:
    """What a message asks for. A task is named by `task_id` or by words of its `title`."""

    # greet, thanks, help, add, remind (add, asked as a reminder), list, complete, reopen, delete,
    # update, out_of_range, no_reminder_time, unknown
    action: str
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
    if reminder := _reminder(text, now):
        return reminder

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
        return _unless_out_of_range("add", _new_task(match["rest"], now))
    if grammar.LIST_START.match(text) and grammar.LIST_TOPIC.search(text):
        return _unless_out_of_range("list", _list_filters(text, now))
    return Command("unknown")


def _out_of_range(action: str, due: OutOfRange, date_argument: str = "due_date") -> Command:
    """A refusal: the `action` asked for names a date no task can be due at (or be reminded of, for
    `remind_at`)."""
    return Command("out_of_range", arguments={"asked": action, "due": due, "of": date_argument})


def _unless_out_of_range(action: str, arguments: dict[str, Any]) -> Command:
    for date_argument in ("due_date", "remind_at", "due_before"):
        if isinstance(due := arguments.get(date_argument), OutOfRange):
            return _out_of_range("add" if action == "remind" else action, due, date_argument)
    return Command(action, arguments=arguments)


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


def _find_reminder(words: str, now: datetime) -> tuple[datetime | OutOfRange | None, str]:
    """find_due for when to remind: a day alone is at REMINDER_TIME, and "at 9" is 09:00."""
    return find_due(words, now, day_time=REMINDER_TIME, bare_hours=True)


def _reminder_only(words: str, now: datetime) -> datetime | OutOfRange | None:
    """When to remind (or OutOfRange) when `words` are nothing but that ("tomorrow at 9"), else None."""
    moment, rest = _find_reminder(words, now)
    return moment if moment is not None and not rest.strip(" ,.") else None


def _reminder(text: str, now: datetime) -> Command | None:
    """The command of a message about a reminder; None when it is about none."""
    if match := grammar.CLEAR_REMINDER.match(text):
        return _about_task("update", match["ref"], remind_at=None)
    if match := grammar.SET_REMINDER.match(text):
        return _remind(match["rest"], now, of_a_new_task=False)
    if match := grammar.REMIND.match(text):
        return _remind(match["rest"], now, of_a_new_task=True)
    return None


def _remind(rest: str, now: datetime, *, of_a_new_task: bool) -> Command | None:
    """A reminder from the words after "remind me": of a new task ("to call mum tomorrow at 9") or
    of one the user has ("about the meeting at 6pm")."""
    for link in grammar.WHEN_THEN_TASK.finditer(rest):
        if rest.count(" ", 0, link.start()) >= MAX_WHEN_WORDS:
            break
        if when := _reminder_only(rest[: link.start()], now):
            task = rest[link.end() :]
            if link["link"].lower() != "to":  # "tomorrow about the meeting"
                return _remind_of(task, when)
            arguments = _new_task(task, now)  # its own date words are its due date
            return _unless_out_of_range("remind", {**arguments, "remind_at": _iso(when)})
    if match := grammar.REMIND_ABOUT.match(rest):
        return _remind_of_named(match["rest"], now)
    if not of_a_new_task:
        return _remind_of_named(rest, now)
    if match := grammar.REMIND_NEW.match(rest):
        return _unless_out_of_range("remind", _new_task(rest[match.end() :], now, reminder=True))
    return None  # "remind me what's pending": not a reminder


def _remind_of_named(words: str, now: datetime) -> Command:
    """A reminder of the task `words` name, at the moment their last words name ("the meeting at
    6pm tomorrow"): the longest run of last words that is nothing but a moment."""
    split = words.split(" ")
    for cut in range(max(1, len(split) - MAX_WHEN_WORDS), len(split)):
        if when := _reminder_only(" ".join(split[cut:]), now):
            return _remind_of(" ".join(split[:cut]), when)
    return Command("no_reminder_time")


def _remind_of(reference: str, when: datetime | OutOfRange) -> Command:
    if isinstance(when, OutOfRange):
        return _out_of_range("update", when, "remind_at")
    return _about_task("update", reference, remind_at=when.isoformat())


def _iso(moment: datetime | OutOfRange) -> str | OutOfRange:
    return moment if isinstance(moment, OutOfRange) else moment.isoformat()


def _new_task(text: str, now: datetime, *, reminder: bool = False) -> dict[str, Any]:
    """The add_task arguments an "add ..." message gives; whatever no rule claims is the title. Its
    date words are the due date, or with `reminder` when to remind; a reminder may also end the
    message ("add buy milk, remind me tomorrow at 8")."""
    arguments: dict[str, Any] = {}
    clause = None if reminder else grammar.REMINDER_CLAUSE.search(text)
    if clause and (when := _reminder_only(clause["when"], now)):
        arguments["remind_at"] = _iso(when)
        text = text[: clause.start()]
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
    due, text = _find_reminder(text, now) if reminder else find_due(text, now)
    if due is not None:
        arguments["remind_at" if reminder else "due_date"] = _iso(due)
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
