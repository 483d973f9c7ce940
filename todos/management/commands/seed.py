import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Session, User
from accounts.passwords import verify_password
from accounts.services import CREDENTIAL_PROVIDER, session_create, user_create_with_password
from accounts.tokens import mint_jwt, session_cookie_header
from todos.models import Category, Priority, Recurrence, Task
from todos.services import task_create

# Documented in the README; demo accounts only.
DEMO_PASSWORD = "ironclad-demo"  # noqa: S105
NAMED_USERS = [("Alice", "alice@example.com"), ("Bob", "bob@example.com")]
# Marks the sessions this command creates, so a second run prints the same cookie.
SEED_USER_AGENT = "ironclad seed"
# A seeded session is reused while it has at least this long to live.
SESSION_REUSE_MARGIN = timedelta(days=1)
# better-auth's default password length limits.
PASSWORD_LENGTHS = range(8, 129)

CATEGORIES = [("Work", "#2563eb"), ("Home", "#16a34a"), ("Health", "#dc2626")]


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
        "tasks and, when the chat app is installed, a conversation; then print each user's email, "
        f"password, a session cookie and a JWT. Users: alice@example.com, bob@example.com, then "
        f"demo3@example.com, ...; password {DEMO_PASSWORD!r} unless --password is given. Safe to run "
        "twice: existing demo users are kept as they are (use --reset to recreate them)."
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
            "--seed", type=int, default=None, help="Random seed: the same seed gives the same tasks."
        )

    def handle(
        self, *args, users: int, tasks: int, password: str, reset: bool, seed: int | None, **options
    ) -> None:
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
            created_tasks = create_tasks(user, categories, task_count, rng)
            summary = f"created: {len(categories)} categories, {len(created_tasks)} tasks"
            if apps.is_installed("chat"):
                create_conversation(user, created_tasks)
                summary += ", 1 conversation"
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


def make_rng(seed: int | None, email: str) -> random.Random:
    # One generator per user, so a user's tasks do not depend on who else is seeded.
    # Demo data, not secrets: a plain PRNG is the point (it is reproducible).
    return random.Random(None if seed is None else f"{seed}:{email}")  # noqa: S311


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


def create_tasks(user: User, categories: dict[str, Category], count: int, rng: random.Random) -> list[Task]:
    recurring = [idea for idea in TASK_IDEAS if idea.recurrence != Recurrence.NONE]
    one_off = [idea for idea in TASK_IDEAS if idea.recurrence == Recurrence.NONE]
    rng.shuffle(recurring)
    rng.shuffle(one_off)
    # Two recurring tasks up front, so that even a short list shows recurrence.
    ideas = recurring[:2] + one_off + recurring[2:]
    picked = [(ideas[i % len(ideas)], i // len(ideas)) for i in range(count)]
    rng.shuffle(picked)

    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    tasks = []
    for index, (idea, round_) in enumerate(picked):
        recurs = idea.recurrence != Recurrence.NONE
        priority = rng.choice(Priority.values)
        tags = list(idea.tags)
        if priority == Priority.HIGH and rng.random() < 0.5:
            tags.append("urgent")
        tasks.append(
            task_create(
                user=user,
                title=idea.title if round_ == 0 else f"{idea.title} ({round_ + 1})",
                description=idea.description,
                priority=priority,
                due_date=due_date(today, rng, required=recurs),
                category=categories.get(idea.category),
                tags=tags,
                recurrence=idea.recurrence,
                # About a third done; recurring ones stay open (completing one schedules the next).
                completed=not recurs and index % 3 == 1,
            )
        )
    return tasks


def due_date(today: datetime, rng: random.Random, *, required: bool) -> datetime | None:
    """No date for some tasks; otherwise between three days ago (overdue) and two weeks ahead."""
    if not required and rng.random() < 0.3:
        return None
    return today + timedelta(days=rng.randint(-3, 14), hours=rng.choice([9, 12, 17]))


def create_conversation(user: User, tasks: list[Task]) -> None:
    from chat.models import Conversation, Message  # the chat app is optional here

    pending = [task for task in tasks if not task.completed]
    listed = [{"id": task.id, "title": task.title, "completed": task.completed} for task in pending]
    names = ", ".join(f"{task.title} (#{task.id})" for task in pending[:5])
    if len(pending) > 5:
        names += f" and {len(pending) - 5} more"
    reply = f"You have {len(pending)} pending tasks: {names}." if pending else "You have no pending tasks."
    conversation = Conversation.objects.create(user=user, title="What's pending?")
    Message.objects.create(user=user, conversation=conversation, role="user", content="What's pending?")
    Message.objects.create(
        user=user,
        conversation=conversation,
        role="assistant",
        content=reply,
        tool_calls=[{"tool_name": "list_tasks", "arguments": {"status": "pending"}, "result": listed}],
    )
