"""Tasks and categories, each owned by one better-auth user. Table and column names are a contract
shared with other programs: docs/database.md."""

from django.db import models
from django.db.models.functions import Length, Lower, Trim
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from accounts.models import OwnedQuerySet, User

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
CATEGORY_NAME_MAX_LENGTH = 50
TAG_MAX_LENGTH = 50
MAX_TAGS = 20


class Priority(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Recurrence(models.TextChoices):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def _length_between(field: str, low: int, high: int) -> models.Q:
    """1 <= length(trim(field)) and length(field) <= high, as a database CHECK."""
    return models.Q(GreaterThanOrEqual(Length(Trim(field)), low), LessThanOrEqual(Length(field), high))


class Category(models.Model):
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        related_name="categories",
        # The unique (userId, lower(name)) index leads with userId and serves lookups by user.
        db_index=False,
    )
    name = models.TextField()
    # "#rrggbb" or NULL: the schema keeps "no colour" as NULL, not "".
    color = models.TextField(null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(db_column="createdAt", auto_now_add=True)
    updated_at = models.DateTimeField(db_column="updatedAt", auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        db_table = "category"
        verbose_name_plural = "categories"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("user", Lower("name"), name="category_user_name_ci_uniq"),
            models.CheckConstraint(
                condition=_length_between("name", 1, CATEGORY_NAME_MAX_LENGTH), name="category_name_length"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        related_name="tasks",
        # Both composite indexes below lead with userId.
        db_index=False,
    )
    title = models.TextField()
    description = models.TextField(default="", blank=True)
    completed = models.BooleanField(default=False)
    priority = models.TextField(choices=Priority.choices, default=Priority.MEDIUM)
    due_date = models.DateTimeField(db_column="dueDate", null=True, blank=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.DB_SET_NULL,
        db_column="categoryId",
        related_name="tasks",
        null=True,
        blank=True,
    )
    tags = models.JSONField(default=list, blank=True)
    recurrence = models.TextField(choices=Recurrence.choices, default=Recurrence.NONE)
    # The occurrence of a recurring series whose completion created this one: each task has at
    # most one next occurrence (todos.services), whatever its title or due date.
    previous_occurrence = models.OneToOneField(
        "self",
        on_delete=models.DB_SET_NULL,
        db_column="previousOccurrenceId",
        related_name="next_occurrence",
        null=True,
        blank=True,
        editable=False,
    )
    # When a `task.reminder` event is sent to the user's webhooks (webhooks.reminders), unless the
    # task is completed or deleted by then.
    remind_at = models.DateTimeField(db_column="remindAt", null=True, blank=True)
    completed_at = models.DateTimeField(db_column="completedAt", null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", auto_now_add=True)
    updated_at = models.DateTimeField(db_column="updatedAt", auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        db_table = "task"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "completed", "created_at"], name="task_user_completed_created"),
            # The default list order: a page is read from it without sorting the user's tasks.
            models.Index(fields=["user", "created_at", "id"], name="task_user_created"),
            models.Index(fields=["user", "due_date"], name="task_user_due_date"),
            # The reminders due, which the worker looks for every second: only tasks that have one.
            models.Index(
                fields=["remind_at"],
                condition=models.Q(remind_at__isnull=False, completed=False),
                name="task_reminder_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_length_between("title", 1, TITLE_MAX_LENGTH), name="task_title_length"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("description"), DESCRIPTION_MAX_LENGTH),
                name="task_description_length",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="task_priority_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(recurrence__in=Recurrence.values), name="task_recurrence_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title


# --- The change feed (GET /api/changes) -------------------------------------------------------


class ChangeKind(models.TextChoices):
    TASK = "task"
    CATEGORY = "category"


class Change(models.Model):
    """The latest change of one task or category: its owner's sequence number at that change, and
    whether it was a deletion (a tombstone). Database triggers write these rows on every insert,
    update and delete of a task or category, whoever makes it (migration 0003); nothing else does.
    """

    pk = models.CompositePrimaryKey("kind", "object_id")
    kind = models.TextField(choices=ChangeKind.choices)
    object_id = models.BigIntegerField(db_column="objectId")
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        related_name="+",
        # The unique (userId, seq) index below leads with userId.
        db_index=False,
    )
    seq = models.BigIntegerField()
    deleted = models.BooleanField(default=False)
    changed_at = models.DateTimeField(db_column="changedAt")

    class Meta:
        db_table = "change"
        constraints = [models.UniqueConstraint("user", "seq", name="change_user_seq_uniq")]
        # What `manage.py upkeep` purges: old tombstones, without reading every live row.
        indexes = [
            models.Index(
                fields=["changed_at"], condition=models.Q(deleted=True), name="change_tombstone_changed"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} {'deleted' if self.deleted else 'changed'} (#{self.seq})"


class ChangeSequence(models.Model):
    """A user's change counter. The triggers take the next number with an upsert of this row, which
    holds its lock until the transaction ends: one user's numbers are handed out in commit order."""

    user = models.OneToOneField(
        User, on_delete=models.DB_CASCADE, primary_key=True, db_column="userId", related_name="+"
    )
    last_seq = models.BigIntegerField(db_column="lastSeq", default=0)
    # The tombstones numbered up to here were purged: a cursor before this is expired.
    purged_through = models.BigIntegerField(db_column="purgedThrough", default=0)

    class Meta:
        db_table = "change_sequence"

    def __str__(self) -> str:
        return f"changes of {self.user_id} up to #{self.last_seq}"


class TaskCount(models.Model):
    """How many tasks a user has, kept by triggers on `task` (todos/migrations/0007), whoever
    writes it: the task quota reads this row instead of counting the tasks. An insert's trigger
    updates it and holds its lock until the transaction ends, so one user's creations take turns
    between their insert and their commit, and two can never both take the last place."""

    user = models.OneToOneField(
        User, on_delete=models.DB_CASCADE, primary_key=True, db_column="userId", related_name="+"
    )
    tasks = models.BigIntegerField(default=0)

    class Meta:
        db_table = "task_count"

    def __str__(self) -> str:
        return f"{self.user_id} has {self.tasks} tasks"
