"""The offline assistant's parser: a message as a Command, relative to a fixed "now" (a Wednesday
afternoon in Paris)."""

import pytest

from chat.dates import OutOfRange
from chat.offline.parser import parse
from chat.tests.conftest import at


@pytest.mark.parametrize(
    ("message", "action", "task_id", "title", "arguments"),
    [
        ("mark 3 done", "complete", 3, None, {}),
        ("Mark task #3 as completed.", "complete", 3, None, {}),
        ("check off the milk", "complete", None, "milk", {}),
        ("what is done?", "list", None, None, {"status": "completed"}),
        ("the report is done", "complete", None, "report", {}),
        ("set 3 as pending", "reopen", 3, None, {}),
        ("remove the due date from task 3", "update", 3, None, {"due_date": None}),
        ("change the title of task 3 to Call dad", "update", 3, None, {"title": "Call dad"}),
        ("change task 3 to call dad", "update", 3, None, {"title": "call dad"}),
        ("set the priority of task 3 to Normal", "update", 3, None, {"priority": "medium"}),
        ("task 3 is due friday at 5pm", "update", 3, None, {"due_date": "@2026-11-27T17:00"}),
        (
            "what is due tomorrow",
            "list",
            None,
            None,
            {"status": "pending", "due_before": "@2026-11-26T23:59"},
        ),
        ("get rid of the old laptop task", "delete", None, "old laptop", {}),
        ("delete the task called groceries", "delete", None, "groceries", {}),
        ("todo: buy bread", "add", None, None, {"title": "buy bread"}),
        (
            "I need to renew my passport in 2 weeks",
            "add",
            None,
            None,
            {"title": "renew my passport", "due_date": "@2026-12-09T23:59"},
        ),
        ("add report category work", "add", None, None, {"title": "report", "category": "work"}),
        (
            'add report in category "Home office"',
            "add",
            None,
            None,
            {"title": "report", "category": "Home office"},
        ),
        (
            "add buy milk with a note 2 litres, semi-skimmed",
            "add",
            None,
            None,
            {"title": "buy milk", "description": "2 litres, semi-skimmed"},
        ),
        ("add new task: review PR to my list", "add", None, None, {"title": "review PR"}),
        (
            'add "Buy milk" tomorrow #shop',
            "add",
            None,
            None,
            {"title": "Buy milk", "tags": ["shop"], "due_date": "@2026-11-26T23:59"},
        ),
        ("list overdue tasks", "list", None, None, {"status": "pending", "overdue": True}),
        ("show urgent tasks", "list", None, None, {"status": "all", "priority": "high"}),
        ("list low-priority pending tasks", "list", None, None, {"status": "pending", "priority": "low"}),
        ("list tasks about the milk", "list", None, None, {"status": "all", "search": "the milk"}),
        ("delete", "unknown", None, None, {}),
        ("mark the task done", "complete", None, "task", {}),
        # Reminders: a day alone is at 09:00, and "at 9" is 09:00.
        (
            "remind me tomorrow at 9 to call mom",
            "remind",
            None,
            None,
            {"title": "call mom", "remind_at": "@2026-11-26T09:00"},
        ),
        (
            "remind me to pay rent on friday at 5pm",
            "remind",
            None,
            None,
            {"title": "pay rent", "remind_at": "@2026-11-27T17:00"},
        ),
        (
            "remind me tomorrow to call mum",
            "remind",
            None,
            None,
            {"title": "call mum", "remind_at": "@2026-11-26T09:00"},
        ),
        (
            "remind me on the 1st of december to call mum",
            "remind",
            None,
            None,
            {"title": "call mum", "remind_at": "@2026-12-01T09:00"},
        ),
        ("remind me at 7 to take the pills", "remind", None, None, {"remind_at": "@2026-11-26T07:00"}),
        (
            "add a reminder to water the plants tonight",
            "remind",
            None,
            None,
            {"title": "water the plants", "remind_at": "@2026-11-25T21:00"},
        ),
        (
            "remind me tomorrow at 9 to pay rent by friday",
            "remind",
            None,
            None,
            {"title": "pay rent", "remind_at": "@2026-11-26T09:00", "due_date": "@2026-11-27T23:59"},
        ),
        ("remind me to call mum", "remind", None, None, {"title": "call mum"}),
        (
            "add buy milk, remind me tomorrow at 9",
            "add",
            None,
            None,
            {"title": "buy milk", "remind_at": "@2026-11-26T09:00"},
        ),
        (
            "add buy milk tomorrow and remind me at 8am",
            "add",
            None,
            None,
            {"title": "buy milk", "due_date": "@2026-11-26T23:59", "remind_at": "@2026-11-26T08:00"},
        ),
        ("add call bob at 3", "add", None, None, {"title": "call bob at 3"}),  # "at 3" only in a reminder
        (
            "remind me about the meeting at 6pm tomorrow",
            "update",
            None,
            "meeting",
            {"remind_at": "@2026-11-26T18:00"},
        ),
        ("remind me about task 3 tomorrow", "update", 3, None, {"remind_at": "@2026-11-26T09:00"}),
        (
            "remind me about task 3 on 2026-11-27 at 18:00",
            "update",
            3,
            None,
            {"remind_at": "@2026-11-27T18:00"},
        ),
        (
            "remind me tomorrow about the dentist",
            "update",
            None,
            "dentist",
            {"remind_at": "@2026-11-26T09:00"},
        ),
        ("set a reminder for task 3 at 6pm", "update", 3, None, {"remind_at": "@2026-11-25T18:00"}),
        ("clear the reminder of task 3", "update", 3, None, {"remind_at": None}),
        ("cancel the reminder for the meeting", "update", None, "meeting", {"remind_at": None}),
        ("remind me about the meeting", "no_reminder_time", None, None, {}),
        ("remind me what's pending", "unknown", None, None, {}),
        # A date no task can be due at: refused, whatever was asked.
        ("add x in 99999999 days", "out_of_range", None, None, {"asked": "add", "due": OutOfRange.FUTURE}),
        (
            "what is due in 99999999 days",
            "out_of_range",
            None,
            None,
            {"asked": "list", "due": OutOfRange.FUTURE},
        ),
        (
            "move 3 to in 99999999 days",
            "out_of_range",
            None,
            None,
            {"asked": "update", "due": OutOfRange.FUTURE},
        ),
        (
            "task 3 is due on 0001-01-01",
            "out_of_range",
            None,
            None,
            {"asked": "update", "due": OutOfRange.PAST},
        ),
        (
            "remind me to renew the passport in 99999999 days",
            "out_of_range",
            None,
            None,
            {"asked": "add", "due": OutOfRange.FUTURE, "of": "remind_at"},
        ),
        (
            "remind me about 3 on 0001-01-01",
            "out_of_range",
            None,
            None,
            {"asked": "update", "due": OutOfRange.PAST, "of": "remind_at"},
        ),
    ],
)
def test_parse(now, message, action, task_id, title, arguments):
    # "@..." is a local time, read once the fixture has set the time zone.
    arguments = {k: at(v[1:]) if str(v).startswith("@") else v for k, v in arguments.items()}

    command = parse(message, now)

    assert (command.action, command.task_id, command.title) == (action, task_id, title)
    assert command.arguments == {**command.arguments, **arguments}
