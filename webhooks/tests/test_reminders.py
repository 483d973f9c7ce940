"""Reminders: at a task's remind_at, a `task.reminder` event reaches the user's webhooks that want
it, once, unless the task is completed or deleted by then. A real worker sends it within seconds
of its time on PostgreSQL: test_worker_live.py."""

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.management.commands import db_worker

from webhooks import reminders
from webhooks.models import Delivery, Event, EventType, Webhook
from webhooks.scheduler import Scheduler
from webhooks.tests.receiver import Receiver, receiving

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def worker_keeps_the_tests_connection(monkeypatch) -> None:
    """As in test_delivery.py: the worker's loop would close the test's connection."""
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)


@pytest.fixture
def receiver(settings, user) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with receiving() as receiver:
        receiver.secret = SECRET
        Webhook.objects.create(user=user, url=receiver.url, event_types=["task.reminder"], secret=SECRET)
        yield receiver


def task_reminding(client, at, **fields) -> dict:
    response = client.post(
        "/api/tasks", {"title": "Call mom", "remind_at": at.isoformat(), **fields}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["data"]


def test_a_due_reminder_is_sent_with_the_task(alice_client, receiver):
    task = task_reminding(alice_client, timezone.now() - timedelta(seconds=1))

    call_command("worker", "--once", verbosity=0)

    [request] = receiver.delivered()
    assert request.verified
    assert request.type == "task.reminder"
    assert request.payload["data"] == alice_client.get(f"/api/tasks/{task['id']}").json()["data"]
    assert request.payload["timestamp"] == task["remind_at"]


def test_a_reminder_not_due_yet_waits(alice_client, receiver):
    task_reminding(alice_client, timezone.now() + timedelta(minutes=5))

    assert reminders.fire_due() == 0
    assert reminders.fire_due(now=timezone.now() + timedelta(minutes=6)) == 1


def test_a_reminder_is_recorded_once_however_often_it_is_looked_for(alice_client, receiver):
    task_reminding(alice_client, timezone.now() - timedelta(seconds=1))

    assert reminders.fire_due() == 1
    assert reminders.fire_due() == 0
    assert Event.objects.filter(type=EventType.TASK_REMINDER).count() == 1
    assert Delivery.objects.count() == 1


def test_completing_or_deleting_the_task_cancels_its_reminder(alice_client, receiver):
    soon = timezone.now() + timedelta(minutes=1)
    completed = task_reminding(alice_client, soon)
    deleted = task_reminding(alice_client, soon)
    kept = task_reminding(alice_client, soon)
    alice_client.patch(f"/api/tasks/{completed['id']}/complete", {}, format="json")
    alice_client.delete(f"/api/tasks/{deleted['id']}")

    assert reminders.fire_due(now=soon + timedelta(seconds=1)) == 1
    assert list(Event.objects.values_list("object_id", flat=True)) == [kept["id"]]


def test_a_new_time_is_reminded_again(alice_client, receiver):
    task = task_reminding(alice_client, timezone.now() - timedelta(seconds=1))
    reminders.fire_due()
    later = timezone.now() + timedelta(minutes=1)
    alice_client.patch(f"/api/tasks/{task['id']}", {"remind_at": later.isoformat()}, format="json")

    assert reminders.fire_due(now=later + timedelta(seconds=1)) == 1
    assert Event.objects.filter(type=EventType.TASK_REMINDER).count() == 2


def test_a_reminder_found_too_late_is_dropped(alice_client, settings, receiver):
    settings.REMINDER_LATE_HOURS = 24
    task_reminding(alice_client, timezone.now() - timedelta(hours=25))
    task_reminding(alice_client, timezone.now() - timedelta(hours=23))

    assert reminders.fire_due() == 1


def test_nothing_is_recorded_for_a_user_without_a_webhook_that_wants_reminders(
    client_for, other_user, receiver
):
    Webhook.objects.create(user=other_user, url=receiver.url, event_types=["task.created"], secret=SECRET)
    task_reminding(client_for(other_user), timezone.now() - timedelta(seconds=1))

    assert reminders.fire_due() == 0
    assert not Event.objects.filter(type=EventType.TASK_REMINDER).exists()


def test_the_scheduler_looks_back_only_since_its_last_look_between_full_looks(alice_client, receiver):
    scheduler = Scheduler(1.0, stopping=threading.Event())
    scheduler.look()
    task_reminding(alice_client, timezone.now() - timedelta(minutes=10))  # set for a time just past
    scheduler.look()
    assert Event.objects.count() == 0  # not in the window since the last look
    scheduler.last_full_look -= 3600  # a minute later, the full look
    scheduler.look()
    assert Event.objects.count() == 1
