"""The offline assistant end to end: utterances through POST /api/chat, the tool calls it makes,
and what changes in the database. Alice talks; Bob's task must never change."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from chat.dates import describe_due
from chat.models import Message
from todos.dates import EARLIEST_DUE, LATEST_DUE
from todos.models import Task

CHAT = "/api/chat"


def local_day(days: int = 0, *, weekday: int | None = None):
    today = timezone.localdate()
    if weekday is not None:
        return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
    return today + timedelta(days=days)


def due(day, hour: int = 23, minute: int = 59) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def tasks(make_task, make_category, user, other_user):
    work = make_category(user, "Work")
    now = timezone.now()
    return {
        "milk": make_task(user, "Buy milk", tags=["shop"]),
        "report": make_task(
            user, "Write report", priority="high", category=work, due_date=now - timedelta(days=1)
        ),
        "meeting1": make_task(user, "Team meeting", due_date=due(local_day(0), 15, 0)),
        "meeting2": make_task(user, "Meeting notes", remind_at=due(local_day(1), 9, 0)),
        "mum": make_task(user, "Call mum", completed=True, completed_at=now),
        "stretch": make_task(user, "Stretch", recurrence="daily", due_date=due(local_day(0), 8, 0)),
        "bob": make_task(other_user, "Bob's secret"),
    }


class World:
    """Alice's tasks as the database has them now, by fixture name or by title."""

    def __init__(self, tasks: dict, user) -> None:
        self.tasks = tasks
        self.user = user

    def __call__(self, name: str) -> Task | None:
        return Task.objects.filter(pk=self.tasks[name].pk).first()

    def titled(self, title: str) -> Task:
        return Task.objects.get(user=self.user, title=title)

    def count(self) -> int:
        return Task.objects.filter(user=self.user).count()


ALICE_TASKS = 6


def nothing_changed(w: World) -> bool:
    milk = w("milk")
    return w.count() == ALICE_TASKS and milk is not None and milk.title == "Buy milk" and not milk.completed


CASES = [
    # --- talk, no tools -----------------------------------------------------------------------
    ("hello", [], r"Hello", nothing_changed),
    ("Good morning!", [], r"Hello", nothing_changed),
    ("help", [], r"add buy milk tomorrow", nothing_changed),
    ("thanks!", [], r"welcome", nothing_changed),
    ("what is the meaning of life?", [], r"didn't understand.*haven't changed anything", nothing_changed),
    ("add", [], r"What should the task be called", nothing_changed),
    # --- add ------------------------------------------------------------------------------------
    (
        "add buy bread",
        [("add_task", {"title": "buy bread"})],
        r'Added task \d+ "buy bread"\.',
        lambda w: w.titled("buy bread").priority == "medium" and w.titled("buy bread").due_date is None,
    ),
    (
        "add buy eggs tomorrow",
        [("add_task", {"title": "buy eggs"})],
        r'"buy eggs", due tomorrow\.',
        lambda w: w.titled("buy eggs").due_date == due(local_day(1)),
    ),
    # --- reminders ---------------------------------------------------------------------------------
    (
        "remind me to call the bank tomorrow at 5pm",
        [("add_task", {"title": "call the bank"})],
        r'"call the bank", reminder tomorrow at 17:00\.$',
        lambda w: (
            (w.titled("call the bank").remind_at, w.titled("call the bank").due_date)
            == (due(local_day(1), 17, 0), None)
        ),
    ),
    (
        "remind me tomorrow at 9 to call the plumber",
        [("add_task", {"title": "call the plumber"})],
        r'Added task \d+ "call the plumber", reminder tomorrow at 09:00\.$',
        lambda w: w.titled("call the plumber").remind_at == due(local_day(1), 9, 0),
    ),
    (
        "remind me on friday to pay rent",  # a day alone: at 09:00
        [("add_task", {"title": "pay rent"})],
        r'"pay rent", reminder on \w+ at 09:00\.$',
        lambda w: w.titled("pay rent").remind_at == due(local_day(weekday=4), 9, 0),
    ),
    (
        "add buy bread tomorrow, remind me tomorrow at 8am",
        [("add_task", {"title": "buy bread"})],
        r'"buy bread", due tomorrow, reminder tomorrow at 08:00\.$',
        lambda w: (
            (w.titled("buy bread").due_date, w.titled("buy bread").remind_at)
            == (due(local_day(1)), due(local_day(1), 8, 0))
        ),
    ),
    (
        "remind me to call the bank",
        [("add_task", {"title": "call the bank"})],
        r'Added task (\d+) "call the bank"\. It has no reminder: say when, as in '
        r'"remind me about task \1 tomorrow at 9"\.$',
        lambda w: w.titled("call the bank").remind_at is None,
    ),
    (
        "remind me about task {milk} tomorrow at 6pm",
        [("update_task", {"task_id": "{milk}"})],
        r'Set a reminder on task \d+ "Buy milk": tomorrow at 18:00\.$',
        lambda w: w("milk").remind_at == due(local_day(1), 18, 0) and w("milk").due_date is None,
    ),
    (
        "remind me about the team meeting on friday at 5pm",
        [
            ("list_tasks", {"status": "all", "search": "team meeting"}),
            ("update_task", {"task_id": "{meeting1}"}),
        ],
        r'Set a reminder on task \d+ "Team meeting": on \w+ at 17:00\.$',
        lambda w: w("meeting1").remind_at == due(local_day(weekday=4), 17, 0),
    ),
    (
        "remind me about the meeting at 6pm",
        [("list_tasks", {"search": "meeting"})],
        r'2 tasks match "meeting": .* Say, for example, "remind me about task \d+ on [\d-]+ at 18:00"',
        lambda w: w("meeting1").remind_at is None,
    ),
    (
        "remind me about the meeting",
        [],
        r"When should I set the reminder\?.*I haven't changed anything",
        nothing_changed,
    ),
    (
        "clear the reminder of the meeting notes",
        [
            ("list_tasks", {"search": "meeting notes"}),
            ("update_task", {"task_id": "{meeting2}", "remind_at": None}),
        ],
        r'Removed the reminder of task \d+ "Meeting notes"\.',
        lambda w: w("meeting2").remind_at is None,
    ),
    (
        "add a high priority task to file taxes by friday",
        [("add_task", {"title": "file taxes", "priority": "high"})],
        r"high priority",
        lambda w: (
            (w.titled("file taxes").priority, w.titled("file taxes").due_date)
            == ("high", due(local_day(weekday=4)))
        ),
    ),
    (
        "add urgent fix the server #work #ops",
        [("add_task", {"title": "fix the server", "priority": "high", "tags": ["work", "ops"]})],
        r"tagged #work #ops",
        lambda w: w.titled("fix the server").tags == ["work", "ops"],
    ),
    (
        "add water the plants every day",
        [("add_task", {"title": "water the plants", "recurrence": "daily"})],
        r"repeating daily",
        lambda w: w.titled("water the plants").recurrence == "daily",
    ),
    (
        "add weekly review every friday",
        [("add_task", {"title": "weekly review", "recurrence": "weekly"})],
        r"due on \w+",
        lambda w: (
            (w.titled("weekly review").recurrence, w.titled("weekly review").due_date)
            == ("weekly", due(local_day(weekday=4)))
        ),
    ),
    (
        "add prepare slides in the work category",
        [("add_task", {"title": "prepare slides", "category": "work"})],
        r"in work",
        lambda w: w.titled("prepare slides").category == w.tasks["report"].category,
    ),
    (
        "add prepare slides in the garden category",
        [("add_task", {"title": "prepare slides", "category": "garden"})],
        r"couldn't add that task: You have no category named 'garden'",
        nothing_changed,
    ),
    (
        "add pay rent on 2026-12-01",
        [("add_task", {"title": "pay rent"})],
        r'"pay rent", due',
        lambda w: timezone.localtime(w.titled("pay rent").due_date).date().isoformat() == "2026-12-01",
    ),
    (
        'add "Meeting at 3" next monday',
        [("add_task", {"title": "Meeting at 3"})],
        r'"Meeting at 3", due',
        lambda w: w.titled("Meeting at 3").due_date == due(local_day(weekday=0)),
    ),
    (
        "add " + "x" * 201,
        [("add_task", {"title": "x" * 201})],
        r"couldn't add that task: .*title: Ensure this field has no more than 200 characters",
        nothing_changed,
    ),
    # --- list -------------------------------------------------------------------------------------
    (
        "what's pending?",
        [("list_tasks", {"status": "pending"})],
        r"You have 5 pending tasks:\n- #\d+ Buy milk \(#shop\)",
        nothing_changed,
    ),
    (
        "show completed tasks",
        [("list_tasks", {"status": "completed"})],
        r"You have 1 completed task:\n- #\d+ Call mum$",
        nothing_changed,
    ),
    (
        "list high priority tasks",
        [("list_tasks", {"status": "all", "priority": "high"})],
        r"You have 1 high-priority task:\n- #\d+ Write report \(high priority, due yesterday",
        nothing_changed,
    ),
    (
        "show my tasks about milk",
        [("list_tasks", {"search": "milk"})],
        r"matching \"milk\":\n- #\d+ Buy milk",
        nothing_changed,
    ),
    (
        "what is overdue?",
        [("list_tasks", {"status": "pending", "overdue": True})],
        # The meeting and Stretch, due today, are overdue too once their hour has passed.
        r"You have (1 pending task that is|[23] pending tasks that are) overdue:\n- #\d+ Write report",
        nothing_changed,
    ),
    ("what's due today?", [("list_tasks", {"status": "pending"})], r"due by today", nothing_changed),
    (
        "show my tasks about notes",
        [("list_tasks", {"search": "notes"})],
        r"- #\d+ Meeting notes \(reminder tomorrow at 09:00\)$",
        nothing_changed,
    ),
    # --- complete and reopen --------------------------------------------------------------------
    (
        "mark {milk} done",
        [("complete_task", {"task_id": "{milk}"})],
        r'Marked task \d+ "Buy milk" as done\.',
        lambda w: w("milk").completed and w("milk").completed_at is not None,
    ),
    (
        "complete task {milk}",
        [("complete_task", {"task_id": "{milk}"})],
        r"as done",
        lambda w: w("milk").completed,
    ),
    (
        "I finished the report",
        [
            ("list_tasks", {"status": "pending", "search": "report"}),
            ("complete_task", {"task_id": "{report}"}),
        ],
        r'Marked task \d+ "Write report" as done',
        lambda w: w("report").completed,
    ),
    (
        "mark {stretch} done",
        [("complete_task", {"task_id": "{stretch}"})],
        r"Its next occurrence is task \d+",
        lambda w: (
            w("stretch").completed and Task.objects.filter(title="Stretch", completed=False).count() == 1
        ),
    ),
    (
        "mark {mum} as not done",
        [("update_task", {"task_id": "{mum}", "completed": False})],
        r'Reopened task \d+ "Call mum"',
        lambda w: not w("mum").completed and w("mum").completed_at is None,
    ),
    (
        "reopen call mum",
        [
            ("list_tasks", {"status": "completed", "search": "call mum"}),
            ("update_task", {"task_id": "{mum}"}),
        ],
        r"Reopened",
        lambda w: not w("mum").completed,
    ),
    # --- delete ------------------------------------------------------------------------------------
    (
        "delete task {milk}",
        [("delete_task", {"task_id": "{milk}"})],
        r'Deleted task \d+ "Buy milk"\.',
        lambda w: w("milk") is None and w.count() == ALICE_TASKS - 1,
    ),
    (
        "delete the meeting task",
        [("list_tasks", {"status": "all", "search": "meeting"})],
        r'2 tasks match "meeting": #\d+ "Team meeting", #\d+ "Meeting notes"\. Which one did you mean\? '
        r'Say, for example, "delete task \d+"',
        lambda w: w("meeting1") is not None and w("meeting2") is not None and w.count() == ALICE_TASKS,
    ),
    (
        "delete the team meeting task",
        [("list_tasks", {"search": "team meeting"}), ("delete_task", {"task_id": "{meeting1}"})],
        r'Deleted task \d+ "Team meeting"',
        lambda w: w("meeting1") is None and w("meeting2") is not None,
    ),
    (
        "delete the dentist task",
        [("list_tasks", {"search": "dentist"})],
        r"couldn't find a task matching \"dentist\", so I haven't changed anything",
        nothing_changed,
    ),
    # --- update ------------------------------------------------------------------------------------
    (
        "rename {milk} to buy bread",
        [("update_task", {"task_id": "{milk}", "title": "buy bread"})],
        r'Renamed task \d+ to "buy bread"',
        lambda w: w("milk").title == "buy bread",
    ),
    (
        "rename the meeting notes to minutes",
        [
            ("list_tasks", {"search": "meeting notes"}),
            ("update_task", {"task_id": "{meeting2}", "title": "minutes"}),
        ],
        r'Renamed task \d+ to "minutes"',
        lambda w: w("meeting2").title == "minutes",
    ),
    (
        "make {milk} high priority",
        [("update_task", {"task_id": "{milk}", "priority": "high"})],
        r"to high priority",
        lambda w: w("milk").priority == "high",
    ),
    (
        "move {milk} to tomorrow at 9am",
        [("update_task", {"task_id": "{milk}"})],
        r"now due tomorrow at 09:00",
        lambda w: w("milk").due_date == due(local_day(1), 9, 0),
    ),
    (
        "clear the due date of task {report}",
        [("update_task", {"task_id": "{report}", "due_date": None})],
        r"Removed the due date",
        lambda w: w("report").due_date is None,
    ),
    (
        "rename {milk} to " + "y" * 201,
        [("update_task", {"task_id": "{milk}"})],
        r"couldn't change task \d+: The task is invalid \(title:",
        lambda w: w("milk").title == "Buy milk",
    ),
    # --- impossible ---------------------------------------------------------------------------------
    (
        "complete task 999999",
        [("complete_task", {"task_id": 999999})],
        r"couldn't complete task 999999: Task 999999 was not found among your tasks",
        nothing_changed,
    ),
    (
        "mark {bob} done",
        [("complete_task", {"task_id": "{bob}"})],
        r"was not found among your tasks",
        nothing_changed,
    ),
    (
        "delete task {bob}",
        [("delete_task", {"task_id": "{bob}"})],
        r"couldn't delete task \d+",
        nothing_changed,
    ),
    (
        "rename {bob} to hacked",
        [("update_task", {"task_id": "{bob}", "title": "hacked"})],
        r"couldn't change",
        nothing_changed,
    ),
]


def _resolve(value, ids: dict):
    if isinstance(value, str) and (match := re.fullmatch(r"\{(\w+)\}", value)):
        return ids[match[1]]
    return value


@pytest.mark.parametrize(
    ("utterance", "expected_calls", "reply", "check"), CASES, ids=[c[0][:40] for c in CASES]
)
def test_utterance(alice_client, user, tasks, utterance, expected_calls, reply, check):
    ids = {name: task.pk for name, task in tasks.items()}

    response = alice_client.post(CHAT, {"message": utterance.format(**ids)})

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    calls = [(call["tool_name"], call["arguments"]) for call in data["tool_calls"]]
    assert [name for name, _ in calls] == [name for name, _ in expected_calls], data
    for (_, arguments), (_, expected) in zip(calls, expected_calls, strict=True):
        assert arguments == {**arguments, **{k: _resolve(v, ids) for k, v in expected.items()}}
    assert re.search(reply, data["response"]), data["response"]
    assert check(World(tasks, user))
    bob = Task.objects.get(pk=tasks["bob"].pk)
    assert (bob.title, bob.completed) == ("Bob's secret", False)
    assert "Bob's secret" not in response.content.decode()
    stored = Message.objects.get(role="assistant")
    assert (stored.content, stored.tool_calls or []) == (data["response"], data["tool_calls"])


def test_a_failed_tool_is_never_reported_as_done(alice_client, tasks):
    data = alice_client.post(CHAT, {"message": "delete task 999999"}).json()["data"]

    assert "error" in data["tool_calls"][0]["result"]
    assert "Deleted" not in data["response"]


def test_dates_follow_the_configured_time_zone(alice_client, user, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: "today" there is often tomorrow in UTC

    alice_client.post(CHAT, {"message": "add pay the bills today at 9am"})

    stored = Task.objects.get(user=user).due_date
    local = timezone.localtime(stored)
    assert (local.date(), local.hour, local.minute) == (timezone.localdate(), 9, 0)
    assert str(local.tzinfo) == "Pacific/Kiritimati"


# A date no task can be due at (todos.dates.LATEST_DUE, EARLIEST_DUE) is refused in a sentence.
TOO_LATE = "That date is too far in the future: a task can be due {latest} at the latest."
TOO_EARLY = "That date is too far in the past: a task can be due {earliest} at the earliest."
NOT_ADDED = "I haven't added the task."
NOT_LISTED = "I haven't listed any tasks."
NOT_CHANGED = "I haven't changed anything."
OUT_OF_RANGE = [
    # (time zone, message, refusal); west of Greenwich the last days overflowed in UTC.
    ("UTC", "add foo in 99999999 days", (TOO_LATE, NOT_ADDED)),
    ("UTC", "add foo in 999999999999 hours", (TOO_LATE, NOT_ADDED)),
    ("UTC", "add foo in 9999999999 minutes", (TOO_LATE, NOT_ADDED)),
    ("UTC", "add foo in 99999999 weeks", (TOO_LATE, NOT_ADDED)),
    ("UTC", "add foo in " + "9" * 3980 + " days", (TOO_LATE, NOT_ADDED)),
    ("America/New_York", "add foo on 9999-12-31", (TOO_LATE, NOT_ADDED)),
    ("America/New_York", "add foo on 9999-12-30", (TOO_LATE, NOT_ADDED)),
    ("America/New_York", "add foo 31 december 9999 at 11pm", (TOO_LATE, NOT_ADDED)),
    ("Europe/Paris", "add foo on 0001-01-01 at 1am", (TOO_EARLY, NOT_ADDED)),
    ("UTC", "add foo on 0000-06-15", (TOO_EARLY, NOT_ADDED)),
    ("UTC", "what is due in 99999999 days", (TOO_LATE, NOT_LISTED)),
    ("America/New_York", "what's due on 9999-12-31?", (TOO_LATE, NOT_LISTED)),
    ("UTC", "move {milk} to in 99999999 days", (TOO_LATE, NOT_CHANGED)),
    ("America/New_York", "move {milk} to 9999-12-31 at 5pm", (TOO_LATE, NOT_CHANGED)),
    ("UTC", "task {milk} is due in 999999999999 hours", (TOO_LATE, NOT_CHANGED)),
    ("Europe/Paris", "move the milk to 0001-01-01 at 1am", (TOO_EARLY, NOT_CHANGED)),
]


@pytest.mark.parametrize(
    ("zone", "message", "refusal"), OUT_OF_RANGE, ids=[f"{c[0]}: {c[1][:40]}" for c in OUT_OF_RANGE]
)
def test_a_date_out_of_range_is_refused_in_a_sentence(
    alice_client, user, make_task, settings, zone, message, refusal
):
    settings.TIME_ZONE = zone
    milk = make_task(user, "Buy milk")
    message = message.format(milk=milk.pk)

    response = alice_client.post(CHAT, {"message": message})

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    now = timezone.localtime()
    reason, outcome = refusal
    limits = {"latest": describe_due(LATEST_DUE, now), "earliest": describe_due(EARLIEST_DUE, now)}
    assert data["response"] == f"{reason.format(**limits)} {outcome}"
    assert data["tool_calls"] == []
    stored = Message.objects.order_by("created_at", "id")
    assert [(m.role, m.content) for m in stored] == [("user", message), ("assistant", data["response"])]
    assert list(Task.objects.values_list("title", "due_date")) == [("Buy milk", None)]


def test_the_refusal_names_the_limit(alice_client, user):
    response = alice_client.post(CHAT, {"message": "add foo in 99999999 days"})  # TIME_ZONE is UTC

    assert response.json()["data"]["response"] == (
        "That date is too far in the future: a task can be due on Thu 30 Dec 9999 at the latest. "
        "I haven't added the task."
    )


def test_the_last_day_in_range_is_accepted(alice_client, user):
    data = alice_client.post(CHAT, {"message": "add foo on 9999-12-30"}).json()["data"]  # UTC

    assert (
        data["response"]
        == f'Added task {data["tool_calls"][0]["result"]["task_id"]} "foo", due on Thu 30 Dec 9999.'
    )
    assert Task.objects.get(user=user).due_date == datetime(9999, 12, 30, 23, 59, tzinfo=UTC)


def test_completing_a_recurring_task_due_on_the_last_day_ends_its_recurrence(alice_client, user, make_task):
    # Relies on todos.services.next_due_date: no next occurrence past todos.dates.LATEST_DUE.
    stretch = make_task(
        user, "Stretch", recurrence="daily", due_date=datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    )

    response = alice_client.post(CHAT, {"message": f"mark {stretch.pk} done"})

    assert response.status_code == 200, response.content
    assert response.json()["data"]["response"] == f'Marked task {stretch.pk} "Stretch" as done.'
    assert list(Task.objects.values_list("title", "completed")) == [("Stretch", True)]
    assert Message.objects.count() == 2


def test_a_reminder_asked_for_in_the_chat_is_the_tasks_remind_at(alice_client, user, settings):
    settings.TIME_ZONE = "Europe/Paris"

    added = alice_client.post(CHAT, {"message": "remind me tomorrow at 9 to call mom"}).json()["data"]
    [task] = alice_client.get("/api/tasks").json()["data"]
    moved = alice_client.post(CHAT, {"message": "remind me about call mom on friday at 5pm"}).json()["data"]
    after_the_move = alice_client.get(f"/api/tasks/{task['id']}").json()["data"]
    cleared = alice_client.post(CHAT, {"message": f"clear the reminder of task {task['id']}"}).json()["data"]
    after_clearing = alice_client.get(f"/api/tasks/{task['id']}").json()["data"]

    assert added["response"] == f'Added task {task["id"]} "call mom", reminder tomorrow at 09:00.'
    assert (task["title"], task["due_date"]) == ("call mom", None)
    assert datetime.fromisoformat(task["remind_at"]) == due(local_day(1), 9, 0)
    assert re.fullmatch(
        rf'Set a reminder on task {task["id"]} "call mom": on \w+ at 17:00\.', moved["response"]
    )
    assert datetime.fromisoformat(after_the_move["remind_at"]) == due(local_day(weekday=4), 17, 0)
    assert cleared["response"] == f'Removed the reminder of task {task["id"]} "call mom".'
    assert after_clearing["remind_at"] is None


def test_a_reminder_out_of_range_is_refused_in_a_sentence(alice_client, user, make_task):
    milk = make_task(user, "Buy milk")  # TIME_ZONE is UTC

    refusals = [
        alice_client.post(CHAT, {"message": message}).json()["data"]
        for message in (
            "remind me to renew the passport in 99999999 days",
            f"remind me about {milk.pk} on 0000-06-15",
        )
    ]

    assert [(refusal["response"], refusal["tool_calls"]) for refusal in refusals] == [
        (
            "That date is too far in the future: a reminder can be on Thu 30 Dec 9999 at the latest. "
            "I haven't added the task.",
            [],
        ),
        (
            "That date is too far in the past: a reminder can be on Tue 2 Jan 0001 at 00:00 at the earliest. "
            "I haven't changed anything.",
            [],
        ),
    ]
    assert list(Task.objects.values_list("title", "remind_at")) == [("Buy milk", None)]
