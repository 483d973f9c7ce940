"""The seed command: demo users better-auth can sign in, their data, and their printed credentials."""

import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import passwords
from accounts.models import Account, Session, User
from accounts.passwords import verify_password
from chat.models import Conversation, Message
from operations.management.commands import seed as seed_module
from operations.management.commands.seed import DEMO_PASSWORD
from todos.models import Category, Task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """better-auth's scrypt at its lowest cost: each seeded user's hash is made and checked here for
    the password it holds; accounts/tests/test_passwords.py checks the format, at full cost,
    against hashes better-auth made."""
    monkeypatch.setattr(passwords, "SCRYPT_N", 2)


CREDENTIALS = re.compile(
    r"^(?P<email>\S+@\S+)  \((?P<summary>.*)\)\n"
    r"  password  (?P<password>.*)\n"
    r"  cookie    (?P<cookie>.*)\n"
    r"  jwt       (?P<jwt>.*)$",
    re.MULTILINE,
)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed", *args, stdout=out)
    return out.getvalue()


def printed(output: str) -> dict[str, dict[str, str]]:
    """The credentials block of each user, by email."""
    return {match["email"]: match.groupdict() for match in CREDENTIALS.finditer(output)}


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (User, Account, Session, Category, Task)}


def titles(email: str) -> list[str]:
    return list(Task.objects.filter(user__email=email).order_by("id").values_list("title", flat=True))


def test_creates_alice_and_bob_who_can_sign_in_with_the_demo_password():
    output = seed()

    assert set(printed(output)) == {"alice@example.com", "bob@example.com"}
    for email in ("alice@example.com", "bob@example.com"):
        user = User.objects.get(email=email)
        account = Account.objects.get(user=user)
        assert (account.provider_id, account.account_id) == ("credential", user.id)
        assert verify_password(DEMO_PASSWORD, account.password)
        assert printed(output)[email]["password"] == DEMO_PASSWORD
        assert user.sessions.active().count() == 1


def test_each_demo_user_gets_categories_and_varied_tasks():
    seed("--users", "1")

    alice = User.objects.get(email="alice@example.com")
    tasks = list(Task.objects.for_user(alice))
    assert len(tasks) == 8
    assert Category.objects.for_user(alice).count() == 3
    assert len({task.priority for task in tasks}) > 1
    assert any(task.completed and task.completed_at for task in tasks)
    assert any(not task.completed for task in tasks)
    assert any(task.recurrence != "none" and task.due_date for task in tasks)
    assert any(task.tags for task in tasks)
    assert any(task.category for task in tasks)


def test_printed_cookie_and_jwt_list_that_users_tasks():
    output = seed()

    for email, credentials in printed(output).items():
        by_cookie = APIClient()
        by_cookie.cookies.load(credentials["cookie"])
        by_jwt = APIClient()
        by_jwt.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials['jwt']}")

        for client in (by_cookie, by_jwt):
            assert client.get("/api/me").json()["data"]["email"] == email
            response = client.get("/api/tasks?page_size=100")
            assert response.status_code == 200, response.content
            assert sorted(task["title"] for task in response.json()["data"]) == sorted(titles(email))
            assert response.json()["meta"]["total"] == 8


def test_cookie_is_url_encoded_as_better_auth_sets_it():
    cookie = printed(seed("--users", "1"))["alice@example.com"]["cookie"]

    name, value = cookie.split("=", 1)
    assert name == "better-auth.session_token"
    assert value.endswith("%3D")  # the base64 signature's padding, percent-encoded
    assert not set(value) & set("+/=;")


def test_second_run_changes_nothing_and_prints_the_same_credentials():
    first = seed()
    before = row_counts()

    second = seed()

    assert row_counts() == before
    assert "0 created, 2 kept" in second
    for email, credentials in printed(second).items():
        assert credentials["summary"] == "kept"
        assert credentials["password"] == DEMO_PASSWORD
        assert credentials["cookie"] == printed(first)[email]["cookie"]


def test_second_run_replaces_a_seeded_session_about_to_expire():
    first = printed(seed("--users", "1"))["alice@example.com"]
    Session.objects.update(expires_at=timezone.now() + timedelta(minutes=5))

    second = printed(seed("--users", "1"))["alice@example.com"]

    assert second["cookie"] != first["cookie"]
    assert User.objects.get(email="alice@example.com").sessions.count() == 2


def test_existing_user_with_the_demo_email_is_kept_as_it_is(make_user, make_task):
    alice = make_user("Alice")
    make_task(alice, "Her own task")

    output = seed("--users", "1")

    assert titles("alice@example.com") == ["Her own task"]
    assert not Account.objects.exists()
    assert printed(output)["alice@example.com"]["password"].startswith("(unchanged")
    client = APIClient()
    client.cookies.load(printed(output)["alice@example.com"]["cookie"])
    assert client.get("/api/me").json()["data"]["id"] == alice.id


def test_reset_recreates_only_the_demo_users(make_user, make_task):
    carol = make_user("Carol")
    make_task(carol, "Carol's task")
    seed()
    old_alice = User.objects.get(email="alice@example.com")
    Task.objects.filter(user=old_alice).delete()

    output = seed("--reset")

    assert "Deleted 2 demo users" in output
    assert "2 created, 0 kept" in output
    assert not User.objects.filter(pk=old_alice.pk).exists()
    assert not Session.objects.filter(user_id=old_alice.pk).exists()
    assert len(titles("alice@example.com")) == 8
    assert row_counts() == {"User": 3, "Account": 2, "Session": 2, "Category": 6, "Task": 17}
    assert titles(carol.email) == ["Carol's task"]


def test_reset_sets_the_given_password():
    seed("--users", "1")

    output = seed("--users", "1", "--reset", "--password", "another-secret-1")

    account = Account.objects.get(user__email="alice@example.com")
    assert verify_password("another-secret-1", account.password)
    assert printed(output)["alice@example.com"]["password"] == "another-secret-1"
    # Without --reset a different password does not apply to a kept user, and says so.
    assert printed(seed("--users", "1"))["alice@example.com"]["password"].startswith("(unchanged")


def test_the_same_seed_gives_the_same_tasks():
    seed("--seed", "7")
    first = {email: titles(email) for email in ("alice@example.com", "bob@example.com")}
    priorities = list(Task.objects.order_by("id").values_list("priority", flat=True))

    seed("--seed", "7", "--reset")

    assert {email: titles(email) for email in first} == first
    assert list(Task.objects.order_by("id").values_list("priority", flat=True)) == priorities
    seed("--seed", "8", "--reset")
    assert titles("alice@example.com") != first["alice@example.com"]


def test_more_users_and_more_tasks_than_ideas():
    output = seed("--users", "3", "--tasks", "25")

    assert list(printed(output)) == ["alice@example.com", "bob@example.com", "demo3@example.com"]
    assert User.objects.get(email="demo3@example.com").name == "Demo 3"
    demo3 = titles("demo3@example.com")
    assert len(demo3) == len(set(demo3)) == 25


def test_no_tasks():
    seed("--users", "1", "--tasks", "0")

    assert not Task.objects.exists()
    assert Category.objects.count() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "--users"),
        (["--tasks", "-1"], "--tasks"),
        (["--password", "short"], "--password"),
        (["--password", "x" * 129], "--password"),
    ],
)
def test_bad_options_are_errors(args, message):
    with pytest.raises(CommandError, match=message):
        seed(*args)
    assert not User.objects.exists()


def test_a_conversation_with_the_offline_assistant_listing_the_open_tasks():
    output = seed("--users", "1")

    assert "1 conversation" in printed(output)["alice@example.com"]["summary"]
    conversation = Conversation.objects.get(user__email="alice@example.com")
    assert conversation.title == "What's pending?"
    question, reply = Message.objects.filter(conversation=conversation)
    assert (question.role, question.content) == ("user", "What's pending?")
    assert reply.role == "assistant"
    # Every open task, oldest first, by id and title; none of the done ones.
    open_tasks = Task.objects.filter(user__email="alice@example.com", completed=False).order_by("id")
    heading, *lines = reply.content.splitlines()
    assert heading == f"You have {len(open_tasks)} pending tasks:"
    assert [line.split(" (")[0] for line in lines] == [f"- #{task.id} {task.title}" for task in open_tasks]
    (call,) = reply.tool_calls
    assert (call["tool_name"], call["arguments"]) == ("list_tasks", {"status": "pending"})
    assert [task["id"] for task in call["result"]] == [task.id for task in open_tasks]

    seed("--users", "1")
    assert Conversation.objects.count() == 1
    seed("--users", "1", "--reset")
    assert Conversation.objects.count() == 1
    assert Message.objects.count() == 2


# --- The shape of every demo user's tasks -------------------------------------------------


def shape_of(email: str, now: datetime) -> dict[str, list[Task]]:
    """A user's tasks by what the seed promises: overdue, due later today, recurring, done."""
    tasks = list(Task.objects.filter(user__email=email))
    today = timezone.localtime(now).date()
    return {
        "overdue": [t for t in tasks if not t.completed and t.due_date and t.due_date < now],
        "due later today": [
            t
            for t in tasks
            if not t.completed
            and t.due_date
            and t.due_date > now
            and timezone.localtime(t.due_date).date() == today
        ],
        "recurring": [t for t in tasks if t.recurrence != "none"],
        "done": [t for t in tasks if t.completed],
    }


@pytest.mark.parametrize("tasks", ["4", "5", "8", "25"])
@pytest.mark.parametrize("seed_args", [[], ["--seed", "0"], ["--seed", "7"], ["--seed", "123456789"]])
def test_every_demo_user_has_tasks_overdue_due_today_recurring_and_done(seed_args, tasks):
    seed("--users", "3", "--tasks", tasks, *seed_args)
    now = timezone.now()

    for email in ("alice@example.com", "bob@example.com", "demo3@example.com"):
        shape = shape_of(email, now)
        assert all(shape.values()), (email, {kind: len(found) for kind, found in shape.items()})
        # Only those two are overdue or due today: the rest is due later, or undated, or done.
        assert len(shape["overdue"]) == len(shape["due later today"]) == 1
        assert all(task.due_date for task in shape["recurring"])
        assert all(not task.completed for task in shape["recurring"])


def test_the_api_lists_exactly_one_overdue_and_one_due_today(settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # another day than UTC's for part of every day
    credentials = printed(seed())
    today = timezone.localdate().isoformat()

    for email in ("alice@example.com", "bob@example.com"):
        client = APIClient()
        client.cookies.load(credentials[email]["cookie"])
        overdue = client.get("/api/tasks?overdue=true").json()
        due_today = client.get(f"/api/tasks?completed=false&due_after={today}&due_before={today}").json()
        assert overdue["meta"]["total"] == due_today["meta"]["total"] == 1
        assert overdue["data"][0]["id"] != due_today["data"][0]["id"]


@pytest.mark.parametrize(
    ("clock", "due_at"),
    [("07:30", "17:00"), ("15:59", "17:00"), ("16:30", "23:59"), ("23:30", "23:59")],
)
def test_the_task_due_today_is_due_later_today_at_any_hour(settings, monkeypatch, clock, due_at):
    settings.TIME_ZONE = "America/New_York"
    hour, minute = map(int, clock.split(":"))
    now = timezone.localtime().replace(hour=hour, minute=minute, second=0, microsecond=0)
    monkeypatch.setattr(seed_module, "local_now", lambda: now)

    seed("--users", "1", "--tasks", "4")

    (due_today,) = shape_of("alice@example.com", now)["due later today"]
    assert f"{timezone.localtime(due_today.due_date):%H:%M}" == due_at


@pytest.mark.parametrize(
    ("tasks", "kinds"),
    [
        ("1", {"overdue"}),
        ("2", {"overdue", "due later today"}),
        ("3", {"overdue", "due later today", "recurring"}),
    ],
)
def test_fewer_than_four_tasks_have_the_first_kinds(tasks, kinds):
    seed("--users", "1", "--tasks", tasks)

    shape = shape_of("alice@example.com", timezone.now())
    assert {kind for kind, found in shape.items() if found} == kinds


def demo_data(email: str) -> list[tuple]:
    fields = (
        "title",
        "description",
        "completed",
        "priority",
        "due_date",
        "category__name",
        "tags",
        "recurrence",
    )
    return list(Task.objects.filter(user__email=email).order_by("id").values_list(*fields))


def test_without_a_seed_every_run_creates_the_same_data():
    seed()
    first = {email: demo_data(email) for email in ("alice@example.com", "bob@example.com")}
    replies = list(Message.objects.order_by("id").values_list("content", flat=True))

    seed("--reset")

    assert {email: demo_data(email) for email in first} == first
    assert first["alice@example.com"] != first["bob@example.com"]
    # The same words; only the task ids differ.
    renumbered = list(Message.objects.order_by("id").values_list("content", flat=True))
    assert [re.sub(r"#\d+ ", "#N ", reply) for reply in renumbered] == [
        re.sub(r"#\d+ ", "#N ", reply) for reply in replies
    ]
