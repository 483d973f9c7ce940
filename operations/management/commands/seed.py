"""`manage.py seed`: demo users better-auth can sign in, with their categories, tasks and a
conversation, and their printed credentials.

Every demo user's tasks have the same shape whatever --seed and --tasks (4 or more) are: one open
task overdue, one open task due later today (in TIME_ZONE), one recurring task and one done task.
The rest are picked at random from TASK_IDEAS, neither overdue nor due today; --seed picks them
(the same seed, the same tasks), and without it the default seed does, so every run is alike.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Session, User
from accounts.passwords import verify_password
from accounts.services import CREDENTIAL_PROVIDER, session_create, user_create_with_password
from accounts.tokens import mint_jwt, session_cookie_header
from chat.models import Conversation
from chat.offline import OfflineAssistant
from chat.services import chat_turn, conversation_start
from ironclad.commands import BaseCommand
from todos.dates import day_at, end_of_day
from todos.models import Category, Priority, Recurrence, Task
from todos.services import task_create

# Documented in docs/operations.md; demo accounts only.
DEMO_PASSWORD = "ironclad-demo"  # noqa: S105
NAMED_USERS = [("Alice", "alice@example.com"), ("Bob", "bob@example.com")]
# Marks the sessions this command creates, so a second run prints the same cookie.
SEED_USER_AGENT = "ironclad seed"
# A seeded session is reused while it has at least this long to live.
SESSION_REUSE_MARGIN = timedelta(days=1)
# better-auth's default password length limits.
PASSWORD_LENGTHS = range(8, 129)
# Without --seed every run creates the same tasks (due dates move with the day it runs).
DEFAULT_SEED = 1
# What each demo user asked the assistant; the offline assistant's answer is stored with it.
CONVERSATION_QUESTION = "What's pending?"

CATEGORIES = [("Work", "#2563eb"), ("Home", "#16a34a"), ("Health", "#dc2626")]
# Hours of the day the tasks are due at; a task due today is due at EVENING.
DUE_HOURS = (9, 12, 17)
EVENING = time(17, 0)


@dataclass(frozen=True)
class TaskIdea:
    title: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    recurrence: str = Recurrence.NONE
    description: str = ""


TASK_IDEAS = [
    TaskIdea("Write the quarterly report", "Work", ("reports",), description="Numbers from finance first."),
    TaskIdea("Review open pull requests", "Work", ("code",)),
    TaskIdea("Prepare the team meeting agenda", "Work", ("meetings",), Recurrence.WEEKLY),
    TaskIdea("Reply to the client's email", "Work", ("email",)),
    TaskIdea("Update the project roadmap", "Work", ("planning",)),
    TaskIdea("Book flights for the conference", "Work", ("travel",)),
    TaskIdea("Buy milk and eggs", "Home", ("shopping", "errand")),
    TaskIdea("Pay the electricity bill", "Home", ("bills",), Recurrence.MONTHLY),
    TaskIdea("Water the plants", "Home", (), Recurrence.WEEKLY),
    TaskIdea("Fix the leaking tap", "Home", ("diy",), description="Washer size 1/2 inch."),
    TaskIdea("Take out the recycling", "Home", (), Recurrence.WEEKLY),
    TaskIdea("Go for a 5 km run", "Health", ("exercise",)),
    TaskIdea("Book a dentist appointment", "Health", ("errand",)),
    TaskIdea("Stretch for 15 minutes", "Health", ("exercise",), Recurrence.DAILY),
    TaskIdea("Call mum", None, ("family",)),
    TaskIdea("Read two chapters of a book", None, ("reading",)),
    TaskIdea("Renew the passport", None, ("errand", "travel"), description="Photo booth at the station."),
    TaskIdea("Plan the weekend trip", None, ("travel",)),
]


class Kind(Enum):
    """The tasks every demo user has, one of each (the first four of their list of ideas)."""

    OVERDUE = "open, due one to three days ago"
    DUE_TODAY = "open, due later today"
    RECURRING = "recurring, open, due within a week"
    DONE = "completed, was due in the past few days"


SHAPE = (Kind.OVERDUE, Kind.DUE_TODAY, Kind.RECURRING, Kind.DONE)


@dataclass(frozen=True)
class TaskPlan:
    idea: TaskIdea
    round: int  # 0 the first time an idea is used; past len(TASK_IDEAS) tasks, 1, 2, ...
    kind: Kind | None  # None: one of the random rest


@dataclass
class SeededUser:
    user: User
    created: bool
    # None when the user was kept and the given password is not theirs.
    password: str | None
    session: Session
    summary: str


def demo_identity(number: int) -> tuple[str, str]:
    """Name and email of the n-th demo user (1-based): Alice, Bob, then Demo 3, Demo 4, ..."""
    if number <= len(NAMED_USERS):
        return NAMED_USERS[number - 1]
    return f"Demo {number}", f"demo{number}@example.com"


class Command(BaseCommand):
    help = (
        "Create demo users who can sign in through better-auth (email and password), with categories, "
        "tasks and a conversation with the assistant; then print each user's email, password, a "
        "session cookie and a JWT. Users: alice@example.com, bob@example.com, then demo3@example.com, "
        f"...; password {DEMO_PASSWORD!r} unless --password is given. Each user's tasks include one "
        "overdue, one due later today, one recurring and one done. Safe to run twice: existing demo "
        "users are kept as they are (use --reset to recreate them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=2, help="How many demo users (default 2).")
        parser.add_argument(
            "--tasks", type=int, default=8, help="How many tasks each new demo user gets (default 8)."
        )
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"Password of new demo users (default {DEMO_PASSWORD!r}).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo users (by email) and everything they own first, then recreate them.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"Random seed (default {DEFAULT_SEED}): the same seed gives the same tasks.",
        )

    def handle(self, *args: str, **options: Any) -> None:
        users: int = options["users"]
        tasks: int = options["tasks"]
        password: str = options["password"]
        reset: bool = options["reset"]
        seed: int = options["seed"]
        if users < 1:
            raise CommandError("--users must be at least 1.")
        if tasks < 0:
            raise CommandError("--tasks cannot be negative.")
        if len(password) not in PASSWORD_LENGTHS:
            raise CommandError(
                f"--password must be {PASSWORD_LENGTHS.start} to {PASSWORD_LENGTHS.stop - 1} characters, "
                "as better-auth requires."
            )

        identities = [demo_identity(number) for number in range(1, users + 1)]
        with transaction.atomic():
            if reset:
                demo_users = User.objects.filter(email__in=[email for _, email in identities])
                count = demo_users.count()
                # Their sessions, accounts, categories, tasks and conversations go with them:
                # foreign keys to `user` cascade in the database.
                demo_users.delete()
                self.stdout.write(f"Deleted {count} demo users and everything they owned.")
            seeded = [
                self.seed_user(name, email, password=password, task_count=tasks, rng=make_rng(seed, email))
                for name, email in identities
            ]

        created = sum(item.created for item in seeded)
        self.stdout.write(
            self.style.SUCCESS(f"Demo users: {created} created, {len(seeded) - created} kept as they were.")
        )
        for item in seeded:
            self.write_credentials(item)

    def seed_user(
        self, name: str, email: str, *, password: str, task_count: int, rng: random.Random
    ) -> SeededUser:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = user_create_with_password(name=name, email=email, password=password)
            categories = create_categories(user)
            created_tasks = create_tasks(user, categories, plan_tasks(task_count, rng), rng, local_now())
            create_conversation(user)
            summary = f"created: {len(categories)} categories, {len(created_tasks)} tasks, 1 conversation"
            return SeededUser(user, True, password, seeded_session(user), summary)

        known_password = password if has_password(user, password) else None
        return SeededUser(user, False, known_password, seeded_session(user), "kept")

    def write_credentials(self, item: SeededUser) -> None:
        password = item.password or "(unchanged: not the --password given; --reset sets it)"
        self.stdout.write("")
        self.stdout.write(f"{item.user.email}  ({item.summary})")
        self.stdout.write(f"  password  {password}")
        self.stdout.write(f"  cookie    {session_cookie_header(item.session.token)}")
        self.stdout.write(f"  jwt       {mint_jwt(item.user)}")


def make_rng(seed: int, email: str) -> random.Random:
    # One generator per user, so a user's tasks do not depend on who else is seeded.
    # Demo data, not secrets: a plain PRNG is the point (it is reproducible).
    return random.Random(f"{seed}:{email}")  # noqa: S311


def local_now() -> datetime:
    """Now in TIME_ZONE: what "overdue" and "today" are measured from."""
    return timezone.localtime()


def has_password(user: User, password: str) -> bool:
    account = Account.objects.filter(user=user, provider_id=CREDENTIAL_PROVIDER, account_id=user.id).first()
    return bool(account and account.password and verify_password(password, account.password))


def seeded_session(user: User) -> Session:
    """The session a previous run created, while it has time left; else a new one."""
    reusable = (
        Session.objects.filter(user=user, user_agent=SEED_USER_AGENT)
        .filter(expires_at__gt=timezone.now() + SESSION_REUSE_MARGIN)
        .order_by("-expires_at")
        .first()
    )
    return reusable or session_create(user=user, user_agent=SEED_USER_AGENT)


def create_categories(user: User) -> dict[str, Category]:
    return {name: Category.objects.create(user=user, name=name, color=color) for name, color in CATEGORIES}


def plan_tasks(count: int, rng: random.Random) -> list[TaskPlan]:
    """`count` tasks: first one of each Kind in SHAPE (as many as fit), then the random rest, in
    the order they are created (shuffled). Each idea is used once before any is used again."""
    recurring = [idea for idea in TASK_IDEAS if idea.recurrence != Recurrence.NONE]
    one_off = [idea for idea in TASK_IDEAS if idea.recurrence == Recurrence.NONE]
    rng.shuffle(recurring)
    rng.shuffle(one_off)
    shaped = [one_off[0], one_off[1], recurring[0], one_off[2]]  # in the order of SHAPE
    rest = one_off[3:] + recurring[1:]
    rng.shuffle(rest)
    ideas = shaped + rest
    plans = [
        TaskPlan(ideas[i % len(ideas)], i // len(ideas), SHAPE[i] if i < len(SHAPE) else None)
        for i in range(count)
    ]
    rng.shuffle(plans)
    return plans


def create_tasks(
    user: User, categories: dict[str, Category], plans: list[TaskPlan], rng: random.Random, now: datetime
) -> list[Task]:
    tasks = []
    for plan in plans:
        idea = plan.idea
        completed, due = task_state(plan, rng, now)
        priority = rng.choice(Priority.values)
        tags = list(idea.tags)
        if priority == Priority.HIGH and rng.random() < 0.5:
            tags.append("urgent")
        tasks.append(
            task_create(
                user=user,
                title=idea.title if plan.round == 0 else f"{idea.title} ({plan.round + 1})",
                description=idea.description,
                priority=priority,
                due_date=due,
                category=categories.get(idea.category) if idea.category else None,
                tags=tags,
                recurrence=idea.recurrence,
                completed=completed,
            )
        )
    return tasks


def task_state(plan: TaskPlan, rng: random.Random, now: datetime) -> tuple[bool, datetime | None]:
    """Whether the planned task is done, and its due date."""
    today = now.date()
    match plan.kind:
        case Kind.OVERDUE:
            return False, at(today - timedelta(days=rng.randint(1, 3)), rng)
        case Kind.DUE_TODAY:
            return False, later_today(now)
        case Kind.RECURRING:
            return False, at(today + timedelta(days=rng.randint(1, 7)), rng)
        case Kind.DONE:
            return True, at(today - timedelta(days=rng.randint(1, 5)), rng)
        case None:
            pass
    # The rest: neither overdue nor due today, so those lists show exactly the tasks above.
    # Recurring ones stay open (completing one schedules the next) and have a due date.
    recurs = plan.idea.recurrence != Recurrence.NONE
    if not recurs and rng.random() < 1 / 3:
        return True, None if rng.random() < 0.5 else at(today - timedelta(days=rng.randint(1, 7)), rng)
    if not recurs and rng.random() < 0.3:
        return False, None
    return False, at(today + timedelta(days=rng.randint(1, 14)), rng)


def at(day: date, rng: random.Random) -> datetime:
    """`day` at one of DUE_HOURS, in TIME_ZONE."""
    return day_at(day, time(rng.choice(DUE_HOURS)))


def later_today(now: datetime) -> datetime:
    """Today at EVENING, or at the end of the day (23:59, shown as just "today") from an hour
    before it: due later today, so not overdue."""
    evening = day_at(now.date(), EVENING)
    return evening if now <= evening - timedelta(hours=1) else end_of_day(now.date())


def create_conversation(user: User) -> Conversation:
    """One turn with the offline assistant, as POST /api/chat would store it: the question and the
    assistant's answer listing the open tasks (oldest first), with its list_tasks call."""
    conversation = conversation_start(user=user, message=CONVERSATION_QUESTION)
    chat_turn(conversation=conversation, message=CONVERSATION_QUESTION, assistant=OfflineAssistant())
    return conversation
