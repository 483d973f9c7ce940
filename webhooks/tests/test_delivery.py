"""Deliveries, as a receiver sees them: `manage.py worker --once` sends what is due to a real HTTP
receiver on loopback, which verifies each request with the `standardwebhooks` library.

The worker's long-running form, several at once, and a worker killed while sending are tried with
real processes on PostgreSQL in test_worker_live.py.
"""

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.management.commands import db_worker
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks.delivery import RESPONSE_KEPT_CHARACTERS
from webhooks.models import BACKLOG_FULL, BACKLOG_MAX, Delivery, DeliveryStatus, Event, EventType, Webhook
from webhooks.scheduler import hand_over_due_webhooks
from webhooks.tests.receiver import Receiver, receiving

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


@pytest.fixture(autouse=True)
def worker_keeps_the_tests_connection(monkeypatch) -> None:
    """The worker's loop closes a connection it finds inside a transaction it did not open (as
    Django does after a request): the test's, here, which the test still needs."""
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT = 2.0
    with receiving() as receiver:
        receiver.secret = SECRET
        yield receiver


@pytest.fixture
def webhook(user, receiver) -> Webhook:
    return subscribe(user, receiver)


def subscribe(user, receiver: Receiver, types: list[str] | None = None, **fields) -> Webhook:
    return Webhook.objects.create(
        user=user, url=receiver.url, event_types=types or sorted(EventType.values), secret=SECRET, **fields
    )


def run_worker() -> None:
    call_command("worker", "--once", verbosity=0)


def deliveries(webhook: Webhook) -> list[Delivery]:
    return list(Delivery.objects.filter(webhook=webhook).order_by("id"))


def test_a_change_is_delivered_signed_with_the_task_as_the_api_shows_it(alice_client, webhook, receiver):
    created = alice_client.post("/api/tasks", {"title": "Water the plants"}, format="json").json()["data"]
    run_worker()

    [request] = receiver.delivered()
    assert request.verified
    assert request.type == "task.created"
    assert request.payload["data"] == alice_client.get(f"/api/tasks/{created['id']}").json()["data"]
    assert request.id.startswith("evt_")
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Ironclad-Webhooks/")
    [delivery] = deliveries(webhook)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


def test_changes_arrive_in_the_order_they_were_made(alice_client, webhook, receiver):
    task = alice_client.post("/api/tasks", {"title": "One"}, format="json").json()["data"]
    alice_client.patch(f"/api/tasks/{task['id']}", {"title": "One, renamed"}, format="json")
    alice_client.patch(f"/api/tasks/{task['id']}/complete", {}, format="json")
    alice_client.delete(f"/api/tasks/{task['id']}")
    run_worker()

    assert [request.type for request in receiver.delivered()] == [
        "task.created",
        "task.updated",
        "task.completed",
        "task.deleted",
    ]
    assert receiver.delivered()[-1].payload["data"]["title"] == "One, renamed"


def test_only_the_types_a_webhook_wants_reach_it(alice_client, user, receiver):
    subscribe(user, receiver, types=["task.completed"])
    task = alice_client.post("/api/tasks", {"title": "One"}, format="json").json()["data"]
    alice_client.patch(f"/api/tasks/{task['id']}/complete", {}, format="json")
    alice_client.post("/api/categories", {"name": "Home"}, format="json")
    run_worker()

    assert [request.type for request in receiver.delivered()] == ["task.completed"]


def test_after_a_rotation_both_secrets_sign_until_the_old_one_expires(alice_client, user, receiver):
    subscribe(
        user,
        receiver,
        previous_secret=OTHER_SECRET,
        previous_secret_until=timezone.now() + timedelta(hours=1),
    )
    alice_client.post("/api/tasks", {"title": "One"}, format="json")
    run_worker()

    [request] = receiver.delivered()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    # Receivers configured with either secret accept it.
    Verifier(OTHER_SECRET).verify(request.body, request.headers)
    Verifier(SECRET).verify(request.body, request.headers)


def test_a_rotated_secret_signs_no_more_once_expired(alice_client, user, receiver):
    subscribe(
        user,
        receiver,
        previous_secret=OTHER_SECRET,
        previous_secret_until=timezone.now() - timedelta(seconds=1),
    )
    alice_client.post("/api/tasks", {"title": "One"}, format="json")
    run_worker()

    [request] = receiver.delivered()
    assert request.verified
    with pytest.raises(WebhookVerificationError):
        Verifier(OTHER_SECRET).verify(request.body, request.headers)


def test_a_receiver_that_fails_then_recovers_gets_every_event_in_order(
    alice_client, settings, webhook, receiver
):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0]
    receiver.answers = [500, 503]
    for title in ("One", "Two", "Three"):
        alice_client.post("/api/tasks", {"title": title}, format="json")

    for _ in range(3):
        run_worker()

    assert [request.answered for request in receiver.received] == [500, 503, 200, 200, 200]
    assert [request.payload["data"]["title"] for request in receiver.delivered()] == ["One", "Two", "Three"]
    first = deliveries(webhook)[0]
    assert first.attempts == 3
    log = alice_client.get(f"/api/webhooks/{webhook.pk}/deliveries").json()["data"]
    assert [attempt["response_status"] for attempt in log[-1]["attempt_log"]] == [500, 503, 200]
    webhook.refresh_from_db()
    assert (webhook.failures, webhook.failing_since, webhook.retry_at) == (0, None, None)


def test_a_failure_pauses_the_webhook_until_its_retry(alice_client, settings, webhook, receiver):
    settings.WEBHOOK_RETRY_SCHEDULE = [3600.0]
    receiver.answers = [500]
    alice_client.post("/api/tasks", {"title": "One"}, format="json")
    alice_client.post("/api/tasks", {"title": "Two"}, format="json")

    run_worker()
    run_worker()

    assert len(receiver.received) == 1  # neither retried nor passed by the next event
    webhook.refresh_from_db()
    assert webhook.failures == 1
    assert timedelta(minutes=59) < webhook.retry_at - timezone.now() <= timedelta(hours=1)
    assert [delivery.status for delivery in deliveries(webhook)] == ["pending", "pending"]


def test_a_delivery_is_given_up_after_the_retry_hours(alice_client, webhook, receiver):
    alice_client.post("/api/tasks", {"title": "Old"}, format="json")
    alice_client.post("/api/tasks", {"title": "New"}, format="json")
    old = deliveries(webhook)[0]
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=29))

    run_worker()

    assert [request.payload["data"]["title"] for request in receiver.delivered()] == ["New"]
    old.refresh_from_db()
    assert (old.status, old.attempts) == (DeliveryStatus.FAILED, 0)


def test_a_webhook_failing_for_days_is_disabled_and_says_why(alice_client, webhook, receiver):
    receiver.answers = [500]
    Webhook.objects.filter(pk=webhook.pk).update(
        failures=40, failing_since=timezone.now() - timedelta(days=6)
    )
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    run_worker()

    shown = alice_client.get(f"/api/webhooks/{webhook.pk}").json()["data"]
    assert shown["enabled"] is False
    assert "HTTP 500" in shown["disabled_reason"]
    alice_client.post("/api/tasks", {"title": "Two"}, format="json")
    assert [delivery.status for delivery in deliveries(webhook)] == ["failed"]  # and nothing more


def test_the_address_is_checked_at_delivery(alice_client, settings, user, receiver):
    """Saved while private addresses were allowed (or a name that resolved elsewhere then): at
    delivery the name resolves to loopback, and nothing is sent."""
    webhook = subscribe(user, receiver)
    Webhook.objects.filter(pk=webhook.pk).update(url=receiver.url.replace("127.0.0.1", "localhost"))
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    run_worker()

    assert receiver.received == []
    [delivery] = deliveries(webhook)
    assert delivery.status == DeliveryStatus.PENDING
    [attempt] = delivery.attempt_set.all()
    assert "not public" in attempt.error


def test_what_is_read_of_an_answer_is_bounded(alice_client, webhook, receiver):
    receiver.body = b"x" * (4 * 1024 * 1024)
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    run_worker()

    [attempt] = deliveries(webhook)[0].attempt_set.all()
    assert attempt.response_status == 200
    assert attempt.response_body == "x" * RESPONSE_KEPT_CHARACTERS


def test_a_receiver_that_does_not_answer_in_time_fails_the_attempt(alice_client, settings, webhook, receiver):
    settings.WEBHOOK_TIMEOUT = 0.5
    receiver.delay = 2
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    started = time.monotonic()
    run_worker()

    assert time.monotonic() - started < 2
    [attempt] = deliveries(webhook)[0].attempt_set.all()
    assert attempt.response_status is None
    assert "no answer within 0.5 s" in attempt.error


def test_a_redirect_is_not_followed(alice_client, webhook, receiver):
    receiver.answers = [302]
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    run_worker()

    [request] = receiver.received
    assert request.answered == 302
    assert deliveries(webhook)[0].status == DeliveryStatus.PENDING


def test_one_claim_at_a_time_and_a_lapsed_claim_is_handed_over_again(alice_client, webhook, receiver):
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    assert hand_over_due_webhooks() == 1
    assert hand_over_due_webhooks() == 0  # claimed: its task has not run yet
    Webhook.objects.filter(pk=webhook.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert hand_over_due_webhooks() == 1  # that task's worker died: another is handed it

    run_worker()  # runs both tasks: the first finds its claim gone and sends nothing
    assert len(receiver.delivered()) == 1


def test_a_user_has_one_webhook_handed_over_at_a_time(alice_client, user, receiver):
    subscribe(user, receiver)
    subscribe(user, receiver)
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    assert hand_over_due_webhooks() == 1
    assert hand_over_due_webhooks() == 0


def test_once_sends_to_each_of_a_users_webhooks(alice_client, user, receiver):
    first, second = subscribe(user, receiver), subscribe(user, receiver)
    alice_client.post("/api/tasks", {"title": "One"}, format="json")

    run_worker()

    assert len(receiver.delivered()) == 2
    assert {delivery.status for delivery in deliveries(first) + deliveries(second)} == {"delivered"}


def test_another_users_webhook_receives_nothing_of_theirs(alice_client, other_user, receiver):
    subscribe(other_user, receiver)
    alice_client.post("/api/tasks", {"title": "Alice's"}, format="json")

    run_worker()

    assert receiver.received == []
    assert Delivery.objects.count() == 0


def test_a_webhook_with_a_full_backlog_is_disabled_instead_of_given_more(alice_client, webhook, receiver):
    alice_client.post("/api/tasks", {"title": "One"}, format="json")
    [first] = deliveries(webhook)
    Delivery.objects.bulk_create(
        Delivery(webhook=webhook, event_id=first.event_id, created_at=first.created_at)
        for _ in range(BACKLOG_MAX - 1)
    )

    alice_client.post("/api/tasks", {"title": "Two"}, format="json")

    shown = alice_client.get(f"/api/webhooks/{webhook.pk}").json()["data"]
    assert (shown["enabled"], shown["disabled_reason"]) == (False, BACKLOG_FULL)
    # Given up, to be redelivered one by one: enabled again, it starts with the events from then on.
    assert [delivery.status for delivery in deliveries(webhook)] == ["failed"] * BACKLOG_MAX


def test_a_webhook_keeps_its_newest_finished_deliveries_only(alice_client, settings, webhook, receiver):
    settings.WEBHOOK_KEPT_DELIVERIES = 2
    for title in ("One", "Two", "Three"):
        alice_client.post("/api/tasks", {"title": title}, format="json")

    run_worker()

    assert len(receiver.delivered()) == 3
    kept = deliveries(webhook)
    assert [delivery.event.data["title"] for delivery in kept] == ["Two", "Three"]
    assert Event.objects.count() == 2  # the first one's event went with it
