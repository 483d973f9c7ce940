"""The admin's webhook pages: read-only, without secrets, acting only through the services."""

import pytest
from django.utils import timezone

from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, EventType, Webhook

SECRET = "whsec_baubQVJ6BD33WekRCJXZTOjMiSwj2vxleXdDQKUlR8Y="


@pytest.fixture
def webhook(user) -> Webhook:
    return Webhook.objects.create(
        user=user,
        url="https://hooks.example.com/alice",
        event_types=["task.created"],
        secret=SECRET,
        previous_secret="whsec_previous",
    )


@pytest.fixture
def delivery(webhook) -> Delivery:
    event = Event.objects.create(
        user=webhook.user,
        type=EventType.TASK_CREATED,
        object_id=7,
        data={"id": 7, "title": "Water the plants"},
        occurred_at=timezone.now(),
    )
    made = Delivery.objects.create(
        webhook=webhook,
        event=event,
        status=DeliveryStatus.FAILED,
        attempts=1,
        created_at=event.occurred_at,
        finished_at=timezone.now(),
    )
    DeliveryAttempt.objects.create(
        delivery=made,
        attempted_at=event.occurred_at,
        duration_ms=12,
        response_status=503,
        response_body="busy",
    )
    return made


@pytest.mark.parametrize("model", ["webhook", "event", "delivery"])
def test_the_pages_open_read_only_and_show_no_secret(operator_client, delivery, model):
    object_id = {"webhook": delivery.webhook_id, "event": delivery.event_id, "delivery": delivery.pk}[model]

    listing = operator_client.get(f"/admin/webhooks/{model}/")
    page = operator_client.get(f"/admin/webhooks/{model}/{object_id}/change/")

    assert listing.status_code == page.status_code == 200
    assert b"whsec_" not in listing.content + page.content
    assert b'type="submit" value="Save"' not in page.content
    assert operator_client.get(f"/admin/webhooks/{model}/add/").status_code == 403


def test_a_deliverys_page_shows_its_attempts(operator_client, delivery):
    page = operator_client.get(f"/admin/webhooks/delivery/{delivery.pk}/change/")

    assert b"busy" in page.content and b"503" in page.content


def test_webhooks_are_searchable_by_url_and_owner_email(operator_client, webhook, other_user):
    Webhook.objects.create(
        user=other_user, url="https://hooks.example.com/bob", event_types=[], secret=SECRET
    )

    by_url = operator_client.get("/admin/webhooks/webhook/", {"q": "alice"})
    by_email = operator_client.get("/admin/webhooks/webhook/", {"q": "bob@example.com"})

    assert by_url.context["cl"].result_count == 1
    assert by_email.context["cl"].result_count == 1


def test_disable_and_enable_go_through_the_service(operator_client, webhook):
    Webhook.objects.filter(pk=webhook.pk).update(failures=3)
    action = {"_selected_action": [webhook.pk]}

    operator_client.post("/admin/webhooks/webhook/", {**action, "action": "disable"})
    disabled = Webhook.objects.get(pk=webhook.pk)
    operator_client.post("/admin/webhooks/webhook/", {**action, "action": "enable"})
    enabled = Webhook.objects.get(pk=webhook.pk)

    assert (disabled.disabled_at is not None, disabled.disabled_reason) == (True, "Disabled by its owner.")
    assert (enabled.disabled_at, enabled.disabled_reason, enabled.failures) == (None, "", 0)


def test_redeliver_queues_the_event_again(operator_client, delivery):
    operator_client.post(
        "/admin/webhooks/delivery/", {"_selected_action": [delivery.pk], "action": "redeliver"}
    )

    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (again.webhook_id, again.event_id, again.status) == (
        delivery.webhook_id,
        delivery.event_id,
        "pending",
    )


@pytest.mark.parametrize("model", ["webhook", "event", "delivery"])
def test_changelist_query_count_does_not_grow(operator_client, user, model, django_assert_max_num_queries):
    for number in range(30):
        webhook = Webhook.objects.create(user=user, url=f"https://h{number}.example.com/", secret=SECRET)
        event = Event.objects.create(
            user=user, type=EventType.TASK_CREATED, object_id=number, data={}, occurred_at=timezone.now()
        )
        Delivery.objects.create(webhook=webhook, event=event, created_at=timezone.now())

    with django_assert_max_num_queries(12):
        assert operator_client.get(f"/admin/webhooks/{model}/").status_code == 200
