"""The webhooks' REST API: create, read, change, delete, rotate the secret, list and redeliver
deliveries; each user's own only."""

import json
import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as Signer
from standardwebhooks.webhooks import WebhookVerificationError

from tests.net import the_test_database_url, wait_until_blocked_on_a_lock
from webhooks.addresses import refusal_of
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, EventType, Webhook
from webhooks.payloads import signed_headers

WEBHOOKS = "/api/webhooks"
URL = "https://hooks.example.com/ironclad"
SHOWN = {
    "id",
    "url",
    "event_types",
    "enabled",
    "disabled_at",
    "disabled_reason",
    "failures",
    "failing_since",
    "retry_at",
    "last_success_at",
    "created_at",
    "updated_at",
}
TASK_TYPES = sorted(value for value in EventType.values if value.startswith("task."))
CATEGORY_TYPES = sorted(value for value in EventType.values if value.startswith("category."))


def create(client, url: str = URL, event_types=("task.created",), *, status: int = 201, **headers) -> dict:
    response = client.post(WEBHOOKS, {"url": url, "event_types": list(event_types)}, **headers)
    assert response.status_code == status, response.content
    return response.json()


def error_of(response, status: int = 400, code: str = "validation_error") -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    return error


def make_event(user, event_type: str = EventType.TASK_CREATED, **fields) -> Event:
    fields.setdefault("occurred_at", timezone.now())
    return Event.objects.create(user=user, type=event_type, object_id=1, data={"id": 1}, **fields)


def make_delivery(webhook: Webhook, event: Event | None = None, *, attempts: int = 0, **fields) -> Delivery:
    fields.setdefault("created_at", timezone.now())
    delivery = Delivery.objects.create(
        webhook=webhook, event=event or make_event(webhook.user), attempts=attempts, **fields
    )
    start = fields["created_at"]
    for number in range(attempts):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=start + timedelta(minutes=number),
            duration_ms=100 + number,
            response_status=500 if number < attempts - 1 else 200,
            response_body=f"answer {number}",
        )
    return delivery


@pytest.fixture
def hook(alice_client, user) -> Webhook:
    return Webhook.objects.get(pk=create(alice_client, event_types=["*"])["data"]["id"])


class TestCreate:
    def test_answers_the_webhook_with_its_secret_once(self, alice_client, user):
        body = create(alice_client, event_types=["task.updated", "task.created"])
        data = body["data"]

        assert set(data) == SHOWN | {"secret", "previous_secret_until"}
        assert data["url"] == URL
        assert data["event_types"] == ["task.created", "task.updated"]
        assert data["enabled"] is True
        assert (data["disabled_at"], data["disabled_reason"], data["failures"]) == (None, "", 0)
        assert data["secret"].startswith("whsec_") and data["previous_secret_until"] is None
        stored = Webhook.objects.get(pk=data["id"])
        assert (stored.user, stored.secret) == (user, data["secret"])
        shown = alice_client.get(f"{WEBHOOKS}/{data['id']}").json()["data"]
        assert set(shown) == SHOWN
        assert alice_client.get(WEBHOOKS).json()["data"] == [shown]

    def test_the_secret_is_32_random_bytes_a_receiver_verifies_with(self, alice_client, user):
        first = create(alice_client)["data"]
        second = create(alice_client)["data"]
        secret = first["secret"]
        body = b'{"type":"task.created"}'
        now = timezone.now()
        headers = {
            "webhook-id": "evt_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Signer(secret).sign("evt_1", now, body),
        }

        assert len(Signer(secret)._whsecret) == 32
        assert second["secret"] != secret
        assert Signer(secret).verify(body, headers) == {"type": "task.created"}
        with pytest.raises(WebhookVerificationError):
            Signer(second["secret"]).verify(body, headers)

    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            (["task.*"], TASK_TYPES),
            (["category.*"], CATEGORY_TYPES),
            (["*"], sorted(EventType.values)),
            (["task.deleted", "category.*", "task.deleted"], [*CATEGORY_TYPES, "task.deleted"]),
            (["task.reminder", "task.*"], TASK_TYPES),
        ],
    )
    def test_event_types_are_stored_expanded_distinct_and_sorted(self, alice_client, user, given, stored):
        data = create(alice_client, event_types=given)["data"]

        assert data["event_types"] == stored
        assert Webhook.objects.get(pk=data["id"]).event_types == stored

    @pytest.mark.parametrize(
        "event_types",
        [["task.exploded"], ["task.created", "Task.Created"], ["task.*", "tasks.*"], ["task"], [""]],
    )
    def test_an_unknown_event_type_is_a_400_naming_it(self, alice_client, user, event_types):
        error = error_of(alice_client.post(WEBHOOKS, {"url": URL, "event_types": event_types}))

        unknown = len(event_types) - 1
        [message] = error["details"]["event_types"][str(unknown)]
        assert message.startswith(f'"{event_types[unknown]}" is not an event type: use task.created, ')
        assert list(error["details"]) == ["event_types"]
        assert not Webhook.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"url": URL, "event_types": []},
            {"url": URL},
            {"url": URL, "event_types": "task.created"},
            {"url": URL, "event_types": [1]},
            {"url": URL, "event_types": [None]},
            {"url": URL, "event_types": ["task.created"] * 51},
        ],
    )
    def test_event_types_must_be_a_list_of_at_least_one(self, alice_client, user, body):
        error = error_of(alice_client.post(WEBHOOKS, body))

        assert list(error["details"]) == ["event_types"]
        assert not Webhook.objects.exists()

    @pytest.mark.parametrize(
        "url",
        [
            "http://hooks.example.com/ironclad",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://localhost/hook",
            "https://LOCALHOST./hook",
            "https://db.internal/hook",
            "https://2130706433/hook",
            "https://0x7f.1/hook",
            "https://0.0.0.0/hook",
            "https://alice:secret@hooks.example.com/ironclad",
            "https://hooks.example.com/ironclad#fragment",
            "https://hooks.example.com:0/ironclad",
            "ftp://hooks.example.com/ironclad",
            "hooks.example.com/ironclad",
            "https:///ironclad",
            "https://hooks.example.com:99999/",
        ],
    )
    def test_a_url_a_webhook_may_not_have_is_a_400_saying_why(self, alice_client, user, url):
        error = error_of(alice_client.post(WEBHOOKS, {"url": url, "event_types": ["*"]}))

        assert error["details"] == {"url": [refusal_of(url)]}
        assert not Webhook.objects.exists()

    @pytest.mark.parametrize("url", ["", "   ", "https://hooks.example.com/" + "a" * 2000, 5, None])
    def test_a_url_that_is_blank_too_long_or_not_a_string_is_a_400(self, alice_client, user, url):
        error = error_of(alice_client.post(WEBHOOKS, {"url": url, "event_types": ["*"]}))

        assert list(error["details"]) == ["url"]

    def test_private_and_plain_http_urls_are_allowed_when_the_setting_says_so(
        self, alice_client, user, settings
    ):
        settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

        for url in ("http://127.0.0.1:8080/hook", "https://localhost/hook", "http://10.0.0.5/hook"):
            assert create(alice_client, url)["data"]["url"] == url
        # Still never a user name and password, nor a fragment.
        refused = alice_client.post(WEBHOOKS, {"url": "http://a:b@127.0.0.1/", "event_types": ["*"]})
        assert list(error_of(refused)["details"]) == ["url"]

    def test_an_unknown_or_read_only_field_is_a_400(self, alice_client, user):
        body = {"url": URL, "event_types": ["*"], "secret": "whsec_mine", "enabled": False}

        error = error_of(alice_client.post(WEBHOOKS, body))

        assert error["details"] == {"enabled": ["Unknown field."], "secret": ["Unknown field."]}

    def test_past_the_quota_is_a_409_and_nothing_is_stored(self, alice_client, bob_client, user, settings):
        settings.QUOTAS = {**settings.QUOTAS, "webhooks": 2}
        first = create(alice_client)["data"]
        create(alice_client)

        error = error_of(
            alice_client.post(WEBHOOKS, {"url": URL, "event_types": ["*"]}), 409, "quota_exceeded"
        )

        assert error["details"] == {"resource": "webhooks", "limit": 2}
        assert Webhook.objects.filter(user=user).count() == 2
        create(bob_client)  # another account's room is its own
        assert alice_client.delete(f"{WEBHOOKS}/{first['id']}").status_code == 204
        create(alice_client)

    def test_a_retry_with_the_idempotency_key_gets_the_same_webhook_and_secret(self, alice_client, user):
        first = alice_client.post(WEBHOOKS, {"url": URL, "event_types": ["*"]}, HTTP_IDEMPOTENCY_KEY="k1")
        again = alice_client.post(WEBHOOKS, {"url": URL, "event_types": ["*"]}, HTTP_IDEMPOTENCY_KEY="k1")
        other = alice_client.post(
            WEBHOOKS, {"url": URL, "event_types": ["task.*"]}, HTTP_IDEMPOTENCY_KEY="k1"
        )

        assert first.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert (again.status_code, again.content) == (201, first.content)
        assert error_of(other, 422, "idempotency_key_reused")
        assert Webhook.objects.filter(user=user).count() == 1

    def test_signed_out_is_a_401(self, api_client, db):
        assert api_client.post(WEBHOOKS, {"url": URL, "event_types": ["*"]}).status_code == 401
        assert api_client.get(WEBHOOKS).status_code == 401


class TestRead:
    def test_the_list_is_yours_oldest_first_and_paged(self, alice_client, bob_client, user):
        ids = [create(alice_client, f"{URL}/{number}")["data"]["id"] for number in range(3)]
        create(bob_client)

        first = alice_client.get(WEBHOOKS, {"page_size": 2}).json()
        second = alice_client.get(WEBHOOKS, {"page_size": 2, "page": 2}).json()

        assert [webhook["id"] for webhook in first["data"] + second["data"]] == ids
        assert first["meta"] == {"page": 1, "page_size": 2, "total": 3, "pages": 2}
        assert all(set(webhook) == SHOWN for webhook in first["data"])
        error_of(alice_client.get(WEBHOOKS, {"page": 3}), 404, "not_found")

    def test_what_the_worker_writes_is_shown_but_never_its_claim_or_the_secrets(self, alice_client, hook):
        now = timezone.now()
        Webhook.objects.filter(pk=hook.pk).update(
            failures=3,
            failing_since=now - timedelta(hours=1),
            retry_at=now + timedelta(minutes=5),
            last_success_at=now - timedelta(days=1),
            claim="worker-1",
            claimed_until=now,
            previous_secret="whsec_old",
        )

        shown = alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"]

        assert shown["failures"] == 3
        assert shown["retry_at"] is not None and shown["failing_since"] is not None
        assert shown["last_success_at"] is not None
        text = json.dumps(shown)
        assert "worker-1" not in text and "whsec_" not in text and "claim" not in text

    @pytest.mark.parametrize("path", ["999999", "0", str(2**64), "abc", "٣"])
    def test_an_unknown_id_is_a_404(self, alice_client, hook, path):
        assert alice_client.get(f"{WEBHOOKS}/{path}").status_code == 404

    def test_every_route_answers_with_a_trailing_slash_too(self, alice_client, hook):
        assert alice_client.get(f"{WEBHOOKS}/").status_code == 200
        assert alice_client.get(f"{WEBHOOKS}/{hook.pk}/").status_code == 200
        assert alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries/").status_code == 200

    def test_an_unknown_query_parameter_is_a_400(self, alice_client, hook):
        error = error_of(alice_client.get(WEBHOOKS, {"status": "pending"}))

        assert error["details"] == {"status": ["Unknown query parameter."]}


class TestUpdate:
    def test_url_and_event_types_change(self, alice_client, hook):
        before = alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"]

        response = alice_client.patch(
            f"{WEBHOOKS}/{hook.pk}", {"url": f"{URL}/v2", "event_types": ["category.*", "task.deleted"]}
        )

        data = response.json()["data"]
        assert response.status_code == 200
        assert set(data) == SHOWN
        assert data["url"] == f"{URL}/v2"
        assert data["event_types"] == [*CATEGORY_TYPES, "task.deleted"]
        assert data["updated_at"] > before["updated_at"]
        assert alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"] == data

    @pytest.mark.parametrize(
        "body",
        [
            {"url": "https://127.0.0.1/"},
            {"url": None},
            {"event_types": []},
            {"event_types": ["task.nothing"]},
            {"enabled": "false"},
            {"enabled": None},
            {"secret": "whsec_mine"},
            {"failures": 0},
        ],
    )
    def test_invalid_changes_are_a_400_and_change_nothing(self, alice_client, hook, body):
        before = alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"]

        error = error_of(alice_client.patch(f"{WEBHOOKS}/{hook.pk}", body))

        assert list(error["details"]) == list(body)
        assert alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"] == before

    def test_put_is_not_a_method_of_webhooks(self, alice_client, hook):
        response = alice_client.put(f"{WEBHOOKS}/{hook.pk}", {"url": URL, "event_types": ["*"]})

        error_of(response, 405, "method_not_allowed")

    def test_disabling_gives_up_its_pending_deliveries(self, alice_client, hook):
        pending = make_delivery(hook)
        delivered = make_delivery(
            hook, status=DeliveryStatus.DELIVERED, finished_at=timezone.now(), attempts=1
        )

        data = alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {"enabled": False}).json()["data"]

        assert data["enabled"] is False
        assert data["disabled_at"] is not None
        assert data["disabled_reason"] == "Disabled by its owner."
        pending.refresh_from_db()
        assert (pending.status, pending.finished_at is not None) == (DeliveryStatus.FAILED, True)
        assert Delivery.objects.get(pk=delivered.pk).status == DeliveryStatus.DELIVERED

    def test_disabling_a_disabled_webhook_keeps_why_and_when(self, alice_client, hook):
        when = timezone.now() - timedelta(days=1)
        Webhook.objects.filter(pk=hook.pk).update(disabled_at=when, disabled_reason="Failed for 5 days.")

        data = alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {"enabled": False}).json()["data"]

        assert data["disabled_reason"] == "Failed for 5 days."
        assert Webhook.objects.get(pk=hook.pk).disabled_at == when

    def test_enabling_starts_it_afresh_and_leaves_the_workers_claim(self, alice_client, hook):
        now = timezone.now()
        Webhook.objects.filter(pk=hook.pk).update(
            disabled_at=now,
            disabled_reason="Failed for 5 days.",
            failures=40,
            failing_since=now - timedelta(days=5),
            retry_at=now + timedelta(hours=10),
            last_success_at=now - timedelta(days=6),
            claim="worker-1",
            claimed_until=now + timedelta(seconds=30),
        )

        data = alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {"enabled": True}).json()["data"]

        assert data["enabled"] is True
        assert (data["disabled_at"], data["disabled_reason"], data["failures"]) == (None, "", 0)
        assert (data["failing_since"], data["retry_at"]) == (None, None)
        assert data["last_success_at"] is not None
        stored = Webhook.objects.get(pk=hook.pk)
        assert (stored.claim, stored.claimed_until) == ("worker-1", now + timedelta(seconds=30))

    def test_enabling_an_enabled_webhook_does_not_forget_its_failures(self, alice_client, hook):
        Webhook.objects.filter(pk=hook.pk).update(failures=2, retry_at=timezone.now())

        data = alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {"enabled": True}).json()["data"]

        assert data["failures"] == 2 and data["retry_at"] is not None

    def test_a_change_writes_only_its_own_columns(self, alice_client, hook):
        """The worker writes failures, retry_at, claim and claimed_until at any moment: a PATCH
        must not write back what it read of them."""
        with CaptureQueriesContext(connection) as queries:
            alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {"url": hook.url, "event_types": ["task.*"]})

        updates = [query["sql"] for query in queries if query["sql"].startswith('UPDATE "webhook"')]
        assert len(updates) == 1
        assert '"eventTypes"' in updates[0] and '"updatedAt"' in updates[0]
        for column in ("url", "failures", "retryAt", "claim", "claimedUntil", "secret", "disabledAt"):
            assert f'"{column}"' not in updates[0]

    def test_a_new_url_is_tried_at_once(self, alice_client, hook):
        """Its failures were the old URL's."""
        Webhook.objects.filter(pk=hook.pk).update(
            failures=3, failing_since=timezone.now(), retry_at=timezone.now() + timedelta(hours=2)
        )

        shown = alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {"url": f"{URL}/v2"}).json()["data"]

        assert (shown["url"], shown["failures"], shown["failing_since"], shown["retry_at"]) == (
            f"{URL}/v2",
            0,
            None,
            None,
        )

    def test_an_empty_change_changes_nothing(self, alice_client, hook):
        before = alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"]

        assert alice_client.patch(f"{WEBHOOKS}/{hook.pk}", {}).json()["data"] == before


class TestDelete:
    def test_its_deliveries_go_with_it_its_events_stay(self, alice_client, hook):
        delivery = make_delivery(hook, attempts=2)

        assert alice_client.delete(f"{WEBHOOKS}/{hook.pk}").status_code == 204

        assert not Webhook.objects.filter(pk=hook.pk).exists()
        assert not Delivery.objects.filter(pk=delivery.pk).exists()
        assert not DeliveryAttempt.objects.exists()
        assert Event.objects.filter(pk=delivery.event_id).exists()
        assert alice_client.delete(f"{WEBHOOKS}/{hook.pk}").status_code == 404


class TestRotateSecret:
    def test_a_new_secret_and_the_old_one_signs_beside_it_for_a_while(self, alice_client, hook, settings):
        settings.WEBHOOK_PREVIOUS_SECRET_HOURS = 2
        old = hook.secret

        response = alice_client.post(f"{WEBHOOKS}/{hook.pk}/rotate-secret")

        data = response.json()["data"]
        assert response.status_code == 200
        assert set(data) == SHOWN | {"secret", "previous_secret_until"}
        assert data["secret"].startswith("whsec_") and data["secret"] != old
        stored = Webhook.objects.get(pk=hook.pk)
        assert (stored.secret, stored.previous_secret) == (data["secret"], old)
        expected_until = timezone.now() + timedelta(hours=2)
        assert abs((stored.previous_secret_until - expected_until).total_seconds()) < 60
        assert "secret" not in alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"]
        # A delivery now is signed with both: a receiver with either secret verifies it.
        event, body = make_event(hook.user), b"{}"
        headers = signed_headers(stored, event, body, at=timezone.now())
        for secret in (old, data["secret"]):
            Signer(secret).verify(body, headers)

    def test_a_second_rotation_drops_the_first_secret(self, alice_client, hook):
        first = alice_client.post(f"{WEBHOOKS}/{hook.pk}/rotate-secret").json()["data"]["secret"]
        second = alice_client.post(f"{WEBHOOKS}/{hook.pk}/rotate-secret").json()["data"]["secret"]

        stored = Webhook.objects.get(pk=hook.pk)
        assert (stored.secret, stored.previous_secret) == (second, first)

    def test_a_retry_with_the_idempotency_key_rotates_once(self, alice_client, hook):
        path = f"{WEBHOOKS}/{hook.pk}/rotate-secret"

        first = alice_client.post(path, HTTP_IDEMPOTENCY_KEY="rotate-1")
        again = alice_client.post(path, HTTP_IDEMPOTENCY_KEY="rotate-1")

        assert again.content == first.content and again["Idempotent-Replayed"] == "true"
        assert Webhook.objects.get(pk=hook.pk).previous_secret == hook.secret


class TestDeliveries:
    def test_newest_first_with_their_event_and_attempts_oldest_first(self, alice_client, hook):
        older = make_delivery(hook, status=DeliveryStatus.DELIVERED, finished_at=timezone.now(), attempts=3)
        newer = make_delivery(hook, make_event(hook.user, EventType.CATEGORY_DELETED))

        body = alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries").json()

        assert [delivery["id"] for delivery in body["data"]] == [newer.pk, older.pk]
        assert body["meta"] == {"page": 1, "page_size": 20, "total": 2, "pages": 1}
        shown = body["data"][1]
        assert set(shown) == {"id", "event", "status", "attempts", "created_at", "finished_at", "attempt_log"}
        assert set(shown["event"]) == {"id", "type", "occurred_at"}
        assert shown["event"]["id"] == f"evt_{older.event_id}"
        assert shown["event"]["type"] == "task.created"
        assert (shown["status"], shown["attempts"]) == ("delivered", 3)
        assert [attempt["response_body"] for attempt in shown["attempt_log"]] == [
            "answer 0",
            "answer 1",
            "answer 2",
        ]
        assert shown["attempt_log"][0] == {
            "attempted_at": shown["attempt_log"][0]["attempted_at"],
            "duration_ms": 100,
            "response_status": 500,
            "response_body": "answer 0",
            "error": "",
        }
        assert body["data"][0]["event"]["type"] == "category.deleted"
        assert body["data"][0]["attempt_log"] == [] and body["data"][0]["finished_at"] is None

    @pytest.mark.parametrize("status", ["pending", "delivered", "failed"])
    def test_filtered_by_status(self, alice_client, hook, status):
        made = {
            name: make_delivery(hook, status=name, finished_at=None if name == "pending" else timezone.now())
            for name in ("pending", "delivered", "failed")
        }

        body = alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries", {"status": status}).json()

        assert [delivery["id"] for delivery in body["data"]] == [made[status].pk]

    @pytest.mark.parametrize("query", [{"status": "lost"}, {"status": ""}, {"kind": "x"}, {"page_size": 101}])
    def test_a_bad_query_is_a_400(self, alice_client, hook, query):
        error = error_of(alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries", query))

        assert list(error["details"]) == list(query)

    def test_only_this_webhooks_deliveries(self, alice_client, hook):
        other = Webhook.objects.get(pk=create(alice_client)["data"]["id"])
        mine = make_delivery(hook)
        make_delivery(other)

        body = alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries").json()

        assert [delivery["id"] for delivery in body["data"]] == [mine.pk]

    def test_a_page_costs_the_same_queries_whatever_its_size(
        self, alice_client, hook, django_assert_max_num_queries
    ):
        alice_client.get(f"{WEBHOOKS}/{hook.pk}")  # the credential is looked up, then kept
        for _ in range(30):
            make_delivery(hook, attempts=3)

        # The webhook; the page with its total; the page's attempts.
        with django_assert_max_num_queries(3):
            response = alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries", {"page_size": 100})

        assert len(response.json()["data"]) == 30
        assert all(len(delivery["attempt_log"]) == 3 for delivery in response.json()["data"])


class TestRedeliver:
    @pytest.mark.parametrize("status", ["pending", "delivered", "failed"])
    def test_a_new_pending_delivery_of_the_same_event(self, alice_client, hook, status):
        finished = None if status == "pending" else timezone.now() - timedelta(hours=1)
        original = make_delivery(
            hook,
            attempts=2,
            status=status,
            finished_at=finished,
            created_at=timezone.now() - timedelta(hours=2),
        )

        response = alice_client.post(f"{WEBHOOKS}/{hook.pk}/deliveries/{original.pk}/redeliver")

        data = response.json()["data"]
        assert response.status_code == 202
        assert data["event"]["id"] == f"evt_{original.event_id}"
        assert (data["status"], data["attempts"], data["attempt_log"], data["finished_at"]) == (
            "pending",
            0,
            [],
            None,
        )
        redelivery = Delivery.objects.get(pk=data["id"])
        assert (redelivery.webhook_id, redelivery.event_id) == (hook.pk, original.event_id)
        assert redelivery.created_at > original.created_at + timedelta(hours=1)
        original.refresh_from_db()
        assert (original.status, original.attempts) == (status, 2)
        listed = alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries").json()["data"]
        assert [delivery["id"] for delivery in listed] == [redelivery.pk, original.pk]

    def test_another_webhooks_delivery_is_a_404(self, alice_client, hook):
        other = Webhook.objects.get(pk=create(alice_client)["data"]["id"])
        delivery = make_delivery(other)

        response = alice_client.post(f"{WEBHOOKS}/{hook.pk}/deliveries/{delivery.pk}/redeliver")

        error_of(response, 404, "not_found")
        assert Delivery.objects.count() == 1

    @pytest.mark.parametrize("delivery_id", ["999999", "0", str(2**64)])
    def test_an_unknown_delivery_is_a_404(self, alice_client, hook, delivery_id):
        response = alice_client.post(f"{WEBHOOKS}/{hook.pk}/deliveries/{delivery_id}/redeliver")

        error_of(response, 404, "not_found")

    def test_get_is_not_a_method_of_it(self, alice_client, hook):
        delivery = make_delivery(hook)

        response = alice_client.get(f"{WEBHOOKS}/{hook.pk}/deliveries/{delivery.pk}/redeliver")

        error_of(response, 405, "method_not_allowed")

    def test_a_retry_with_the_idempotency_key_redelivers_once(self, alice_client, hook):
        delivery = make_delivery(hook)
        path = f"{WEBHOOKS}/{hook.pk}/deliveries/{delivery.pk}/redeliver"

        first = alice_client.post(path, HTTP_IDEMPOTENCY_KEY="again-1")
        again = alice_client.post(path, HTTP_IDEMPOTENCY_KEY="again-1")

        assert (first.status_code, again.content) == (202, first.content)
        assert Delivery.objects.count() == 2


class TestIsolation:
    """Another user's webhook, and what is under it, is a 404 whatever the method; nothing changes."""

    def test_bob_cannot_see_or_touch_alices_webhook(self, alice_client, bob_client, hook):
        delivery = make_delivery(hook)
        before = alice_client.get(f"{WEBHOOKS}/{hook.pk}").json()["data"]
        base = f"{WEBHOOKS}/{hook.pk}"

        answers = [
            bob_client.get(base),
            bob_client.patch(base, {"enabled": False}),
            bob_client.delete(base),
            bob_client.post(f"{base}/rotate-secret"),
            bob_client.get(f"{base}/deliveries"),
            bob_client.post(f"{base}/deliveries/{delivery.pk}/redeliver"),
        ]

        assert [answer.status_code for answer in answers] == [404] * 6
        assert all(answer.json()["error"]["code"] == "not_found" for answer in answers)
        assert bob_client.get(WEBHOOKS).json()["data"] == []
        assert alice_client.get(base).json()["data"] == before
        assert Webhook.objects.get(pk=hook.pk).secret == hook.secret
        assert Delivery.objects.count() == 1

    def test_bob_cannot_redeliver_alices_delivery_under_his_own_webhook(self, bob_client, other_user, hook):
        delivery = make_delivery(hook)
        bobs = Webhook.objects.get(pk=create(bob_client)["data"]["id"])

        response = bob_client.post(f"{WEBHOOKS}/{bobs.pk}/deliveries/{delivery.pk}/redeliver")

        error_of(response, 404, "not_found")
        assert not Delivery.objects.filter(webhook=bobs).exists()

    def test_the_legacy_prefix_does_not_serve_webhooks(self, alice_client, user, hook):
        assert alice_client.get(f"/api/{user.pk}/webhooks").status_code == 404


@pytest.mark.postgres("the worker's concurrent writes are proven on PostgreSQL")
@pytest.mark.django_db(transaction=True)
class TestBesideTheWorker:
    def test_a_change_waits_for_the_workers_lock_and_keeps_what_it_wrote(self, client_for, user):
        client = client_for(user)
        hook = Webhook.objects.get(pk=create(client)["data"]["id"])
        answers = {}

        def change_the_types() -> None:
            try:
                answers["patch"] = client.patch(f"{WEBHOOKS}/{hook.pk}", {"event_types": ["task.*"]})
            finally:
                connection.close()

        with psycopg.connect(the_test_database_url()) as worker:  # recording a failed attempt
            worker.execute('SELECT 1 FROM "webhook" WHERE "id" = %s FOR NO KEY UPDATE', [hook.pk])
            thread = threading.Thread(target=change_the_types)
            thread.start()
            wait_until_blocked_on_a_lock('SELECT "webhook"')
            worker.execute(
                'UPDATE "webhook" SET "failures" = 4, "retryAt" = now(), "claim" = %s WHERE "id" = %s',
                ["worker-1", hook.pk],
            )
            worker.commit()
        thread.join()

        assert answers["patch"].status_code == 200
        assert answers["patch"].json()["data"]["failures"] == 4  # read once the worker had written
        stored = Webhook.objects.get(pk=hook.pk)
        assert (stored.event_types, stored.failures, stored.claim) == (
            sorted(t for t in EventType.values if t.startswith("task.")),
            4,
            "worker-1",
        )
        assert stored.retry_at is not None
