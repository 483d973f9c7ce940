"""`manage.py upkeep`: what it deletes of the webhooks' history (WEBHOOK_HISTORY_DAYS), what it
keeps, and what it says. Sessions, Idempotency-Key answers and tombstones have their own tests
(accounts, idempotency, todos/tests/test_changes.py)."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, EventType, Webhook

pytestmark = pytest.mark.django_db

DAYS = 7


@pytest.fixture(autouse=True)
def history_days(settings):
    settings.WEBHOOK_HISTORY_DAYS = DAYS


def ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def webhook(user) -> Webhook:
    return Webhook.objects.create(
        user=user, url="https://hooks.example.com/", event_types=["*"], secret="whsec_x"
    )


def event(user, days: float) -> Event:
    return Event.objects.create(
        user=user, type=EventType.TASK_CREATED, object_id=1, data={"id": 1}, occurred_at=ago(days)
    )


def delivery(webhook: Webhook, of: Event, *, status: str, finished_days: float | None) -> Delivery:
    made = Delivery.objects.create(
        webhook=webhook,
        event=of,
        status=status,
        attempts=1,
        created_at=of.occurred_at,
        finished_at=None if finished_days is None else ago(finished_days),
    )
    DeliveryAttempt.objects.create(
        delivery=made, attempted_at=of.occurred_at, duration_ms=5, response_status=200
    )
    return made


def task_result(status: str, finished_days: float | None) -> DBTaskResult:
    return DBTaskResult.objects.create(
        id=uuid.uuid4(),
        status=status,
        args_kwargs={"args": [], "kwargs": {}},
        task_path="webhooks.tasks.send_webhook_deliveries",
        backend_name="default",
        run_after=ago(30),
        finished_at=None if finished_days is None else ago(finished_days),
    )


def upkeep(*args: str) -> str:
    out = StringIO()
    call_command("upkeep", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(user, webhook):
    """Old and recent history, by what upkeep should do with it."""
    old_delivered = event(user, DAYS + 3)
    old_failed = event(user, DAYS + 3)
    old_unsent = event(user, DAYS + 1)  # no delivery left: its webhook was deleted, say
    old_pending = event(user, DAYS + 1)
    redelivered = event(user, DAYS + 2)  # finished long ago, then redelivered yesterday
    recent = event(user, 1)
    gone = {
        "deliveries": [
            delivery(webhook, old_delivered, status=DeliveryStatus.DELIVERED, finished_days=DAYS + 2),
            delivery(webhook, old_failed, status=DeliveryStatus.FAILED, finished_days=DAYS + 1),
            delivery(webhook, redelivered, status=DeliveryStatus.DELIVERED, finished_days=DAYS + 2),
        ],
        "events": [old_delivered, old_failed, old_unsent],
        "task_results": [
            task_result(TaskResultStatus.SUCCESSFUL, DAYS + 1),
            task_result(TaskResultStatus.FAILED, DAYS + 1),
        ],
    }
    kept = {
        "deliveries": [
            delivery(webhook, old_pending, status=DeliveryStatus.PENDING, finished_days=None),
            delivery(webhook, redelivered, status=DeliveryStatus.DELIVERED, finished_days=1),
            delivery(webhook, recent, status=DeliveryStatus.DELIVERED, finished_days=1),
        ],
        "events": [old_pending, redelivered, recent],
        "task_results": [
            task_result(TaskResultStatus.SUCCESSFUL, 1),
            task_result(TaskResultStatus.RUNNING, None),
            task_result(TaskResultStatus.READY, None),
        ],
    }
    return gone, kept


def remaining(model) -> set:
    return set(model.objects.values_list("pk", flat=True))


def test_deletes_finished_history_older_than_the_kept_days_and_says_how_much(history):
    gone, kept = history

    output = upkeep()

    assert (
        f"Deleted 3 webhook deliveries, 3 webhook events and 2 task results older than {DAYS} days." in output
    )
    for name, model in (("deliveries", Delivery), ("events", Event), ("task_results", DBTaskResult)):
        assert remaining(model) == {made.pk for made in kept[name]}
        assert remaining(model).isdisjoint(made.pk for made in gone[name])
    # The deliveries' attempts went with them.
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == remaining(Delivery)


def test_a_dry_run_counts_the_same_and_deletes_nothing(history):
    before = (remaining(Delivery), remaining(Event), remaining(DBTaskResult))

    output = upkeep("--dry-run")

    assert (
        f"Would delete 3 webhook deliveries, 3 webhook events and 2 task results older than {DAYS} days."
        in output
    )
    assert (remaining(Delivery), remaining(Event), remaining(DBTaskResult)) == before


def test_the_kept_days_are_a_setting(settings, user, webhook):
    kept = event(user, 3)
    delivery(webhook, kept, status=DeliveryStatus.DELIVERED, finished_days=3)

    upkeep()
    assert remaining(Event) == {kept.pk}

    settings.WEBHOOK_HISTORY_DAYS = 2
    assert "Deleted 1 webhook deliveries, 1 webhook events" in upkeep()
    assert remaining(Event) == set()


def test_with_nothing_to_delete_it_says_so(db):
    assert (
        f"Deleted 0 webhook deliveries, 0 webhook events and 0 task results older than {DAYS} days."
        in upkeep()
    )
