"""Due dates from English words, relative to a fixed "now" (a Wednesday afternoon)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chat.dates import describe_due, find_due
from chat.offline import parse


@pytest.fixture
def now(settings):
    settings.TIME_ZONE = "Europe/Paris"
    return datetime(2026, 11, 25, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))  # a Wednesday afternoon


def at(text: str) -> str:
    return timezone.make_aware(datetime.fromisoformat(text)).isoformat()


@pytest.mark.parametrize(
    ("words", "expected", "rest"),
    [
        ("buy milk tomorrow", "2026-11-26T23:59", "buy milk"),
        ("buy milk today", "2026-11-25T23:59", "buy milk"),
        ("call mum at 5pm", "2026-11-25T17:00", "call mum"),
        ("call mum at 1pm", "2026-11-26T13:00", "call mum"),  # 1pm has passed: tomorrow's
        ("call mum at 9:30 am tomorrow", "2026-11-26T09:30", "call mum"),
        ("x at 17:45", "2026-11-25T17:45", "x"),
        ("x by noon", "2026-11-26T12:00", "x"),
        ("x tonight", "2026-11-25T21:00", "x"),
        ("x tomorrow morning", "2026-11-26T09:00", "x"),
        ("x the day after tomorrow", "2026-11-27T23:59", "x"),
        ("report next monday", "2026-11-30T23:59", "report"),
        ("report on friday at noon", "2026-11-27T12:00", "report"),
        ("x on wednesday", "2026-12-02T23:59", "x"),  # said on a Wednesday: next week's
        ("x this wednesday", "2026-11-25T23:59", "x"),
        ("x on sun", "2026-11-29T23:59", "x"),
        ("x next week", "2026-12-02T23:59", "x"),
        ("x in 3 days", "2026-11-28T23:59", "x"),
        ("x in two weeks", "2026-12-09T23:59", "x"),
        ("x in 2 hours", "2026-11-25T16:30", "x"),
        ("pay rent on 2026-12-01", "2026-12-01T23:59", "pay rent"),
        ("meet 1 december at 9:30", "2026-12-01T09:30", "meet"),
        ("meet dec 1st", "2026-12-01T23:59", "meet"),
        ("party 3rd of january", "2027-01-03T23:59", "party"),  # past this year: next year's
        ("x march 5, 2028", "2028-03-05T23:59", "x"),
    ],
)
def test_found(now, words, expected, rest):
    due, left = find_due(words, now)

    assert (due.isoformat(), left) == (at(expected), rest)
    assert str(timezone.localtime(due).tzinfo) == "Europe/Paris"


@pytest.mark.parametrize(
    "words",
    ["buy sun cream", "read today's paper", "I may call", "x 31 february", "x 2026-02-30", "at 25:00 x"],
)
def test_words_that_are_not_dates_stay(now, words):
    assert find_due(words, now) == (None, words)


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        ("2026-11-25T17:00", "today at 17:00"),
        ("2026-11-26T23:59", "tomorrow"),
        ("2026-11-24T23:59", "yesterday"),
        ("2026-11-27T12:00", "on Friday at 12:00"),
        ("2026-12-09T23:59", "on Wed 9 Dec"),
        ("2027-01-03T23:59", "on Sun 3 Jan 2027"),
    ],
)
def test_describe_due(now, moment, words):
    assert describe_due(datetime.fromisoformat(at(moment)), now) == words


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
        ("delete", "unknown", None, None, {}),
        ("mark the task done", "complete", None, "task", {}),
    ],
)
def test_parse(now, message, action, task_id, title, arguments):
    # "@..." is a local time, read once the fixture has set the time zone.
    arguments = {k: at(v[1:]) if str(v).startswith("@") else v for k, v in arguments.items()}

    command = parse(message, now)

    assert (command.action, command.task_id, command.title) == (action, task_id, title)
    assert command.arguments == {**command.arguments, **arguments}
