"""The triggers that record events (webhooks/migrations/0002): every change to a task or category
made through the REST API records the event its owner's webhooks want, with the row's columns, and
one pending delivery per enabled webhook that wants it; nothing for anyone else.

Most tests run in the `db` fixture's transaction, which is never committed: on PostgreSQL the
triggers, deferred to the commit, then fire at the end of each statement instead
(conftest.deferred_triggers_fire_at_once), as the change feed's tests do. TestAtCommit commits."""

import threading

import psycopg
import pytest
from django.db import connection, transaction

from tests.net import the_test_database_url, wait_until_blocked_on_a_lock
from todos.models import Task
from webhooks.models import Delivery, DeliveryStatus, Event, Webhook
from webhooks.payloads import data_of

WEBHOOKS = "/api/webhooks"
URL = "https://hooks.example.com/ironclad"


def add_webhook(client, *event_types: str) -> Webhook:
    response = client.post(WEBHOOKS, {"url": URL, "event_types": list(event_types)})
    assert response.status_code == 201, response.content
    return Webhook.objects.get(pk=response.json()["data"]["id"])


def send(client, method: str, path: str, body: dict | None = None, status: int = 200) -> dict:
    response = getattr(client, method)(path, body)
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def recorded(user, since: int = 0) -> list[tuple[str, int]]:
    """(type, object id) of the user's events after the event `since`, in order."""
    events = Event.objects.filter(user=user, pk__gt=since).order_by("id")
    return [(event.type, event.object_id) for event in events]


def last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def shown(client, kind: str, object_id: int) -> dict:
    return send(client, "get", f"/api/{kind}/{object_id}")["data"]


@pytest.fixture
def everything(alice_client, user) -> Webhook:
    """Alice's webhook that wants every event."""
    return add_webhook(alice_client, "*")


class TestTasks:
    def test_creating_a_task_records_its_columns_and_a_pending_delivery(self, alice_client, user, everything):
        created = send(
            alice_client,
            "post",
            "/api/tasks",
            {"title": "Water the plants", "due_date": "2031-05-01T09:00", "tags": ["home"]},
            201,
        )["data"]

        event = Event.objects.get()
        assert (event.user, event.type, event.object_id) == (user, "task.created", created["id"])
        assert event.data["title"] == "Water the plants"
        assert event.data["dueDate"] is not None and "due_date" not in event.data  # by column name
        assert event.data["userId"] == user.pk and event.data["tags"] == ["home"]
        assert data_of(event) == shown(alice_client, "tasks", created["id"])
        delivery = Delivery.objects.get()
        assert (delivery.webhook, delivery.event, delivery.status) == (
            everything,
            event,
            DeliveryStatus.PENDING,
        )
        assert delivery.attempts == 0 and delivery.finished_at is None

    def test_updating_completing_reopening_and_deleting(self, alice_client, user, everything, make_category):
        work = make_category(user, "Work")
        task_id = send(alice_client, "post", "/api/tasks", {"title": "Report"}, 201)["data"]["id"]
        path = f"/api/tasks/{task_id}"
        changes = []  # (the event a change recorded, the task as GET showed it then)

        for change in (
            lambda: send(alice_client, "patch", path, {"title": "Report, v2", "category_id": work.pk}),
            lambda: send(alice_client, "patch", f"{path}/complete"),
            lambda: send(alice_client, "patch", f"{path}/complete"),  # reopened: an update
            lambda: send(alice_client, "put", path, {"title": "Report, v3", "priority": "high"}),
        ):
            since = last_event_id()
            change()
            [event] = Event.objects.filter(pk__gt=since)
            changes.append((event, shown(alice_client, "tasks", task_id)))
        last_shown = shown(alice_client, "tasks", task_id)
        since = last_event_id()
        send(alice_client, "delete", path, status=204)

        assert [event.type for event, _ in changes] == [
            "task.updated",
            "task.completed",
            "task.updated",
            "task.updated",
        ]
        first = changes[0][0]
        assert first.data["categoryId"] == work.pk and first.data["title"] == "Report, v2"
        for event, then in changes:
            assert data_of(event) == then
        [deleted] = Event.objects.filter(pk__gt=since)
        # A deleted task's data is the row as it was: as GET showed it last.
        assert (deleted.type, deleted.object_id) == ("task.deleted", task_id)
        assert data_of(deleted) == last_shown
        # One pending delivery each: created, the 4 changes, deleted.
        of_the_task = Delivery.objects.filter(event__object_id=task_id, event__type__startswith="task.")
        assert of_the_task.filter(webhook=everything, status=DeliveryStatus.PENDING).count() == 6

    def test_completing_a_recurring_task_records_its_next_occurrence_created(
        self, alice_client, user, everything
    ):
        task_id = send(
            alice_client,
            "post",
            "/api/tasks",
            {"title": "Stretch", "recurrence": "daily", "due_date": "2031-05-01"},
            201,
        )["data"]["id"]
        since = last_event_id()

        answer = send(alice_client, "patch", f"/api/tasks/{task_id}/complete")

        next_id = answer["meta"]["next_occurrence"]["id"]
        assert recorded(user, since) == [("task.completed", task_id), ("task.created", next_id)]
        completed, created = Event.objects.filter(pk__gt=since).order_by("id")
        assert data_of(completed) == shown(alice_client, "tasks", task_id)
        assert data_of(created) == shown(alice_client, "tasks", next_id)
        assert created.data["previousOccurrenceId"] == task_id

    def test_a_bulk_action_records_an_event_per_task(self, alice_client, user, everything, make_task):
        ids = [make_task(user, f"T{number}").pk for number in range(3)]
        since = last_event_id()

        send(alice_client, "post", "/api/tasks/bulk", {"action": "complete", "ids": ids})
        send(alice_client, "post", "/api/tasks/bulk", {"action": "delete", "ids": ids[:2]})

        assert recorded(user, since) == [
            *(("task.completed", task_id) for task_id in ids),
            *(("task.deleted", task_id) for task_id in ids[:2]),
        ]

    def test_a_change_made_without_the_api_is_recorded_too(self, user, everything):
        task = Task.objects.create(user=user, title="From the admin")
        Task.objects.filter(pk=task.pk).update(title="Renamed in SQL")

        assert recorded(user) == [("task.created", task.pk), ("task.updated", task.pk)]
        assert Event.objects.order_by("id").last().data["title"] == "Renamed in SQL"


class TestCategories:
    def test_creating_renaming_and_deleting(self, alice_client, user, everything):
        created = send(alice_client, "post", "/api/categories", {"name": "Work", "color": "#aabbcc"}, 201)[
            "data"
        ]
        path = f"/api/categories/{created['id']}"
        send(alice_client, "patch", path, {"name": "Job"})
        renamed = shown(alice_client, "categories", created["id"])
        send(alice_client, "delete", path, status=204)

        assert recorded(user) == [
            ("category.created", created["id"]),
            ("category.updated", created["id"]),
            ("category.deleted", created["id"]),
        ]
        first, second, third = Event.objects.order_by("id")
        assert first.data["name"] == "Work" and first.data["color"] == "#aabbcc"
        assert data_of(first) == created
        assert data_of(second) == renamed
        assert data_of(third) == renamed

    def test_deleting_a_category_records_its_tasks_updated(
        self, alice_client, user, everything, make_category
    ):
        work = make_category(user, "Work")
        filed = [
            send(alice_client, "post", "/api/tasks", {"title": f"T{n}", "category_id": work.pk}, 201)["data"][
                "id"
            ]
            for n in range(2)
        ]
        since = last_event_id()

        send(alice_client, "delete", f"/api/categories/{work.pk}", status=204)

        assert sorted(recorded(user, since)) == sorted(
            [("category.deleted", work.pk), *(("task.updated", task_id) for task_id in filed)]
        )
        for event in Event.objects.filter(pk__gt=since, type="task.updated"):
            assert event.data["categoryId"] is None  # ON DELETE SET NULL
            assert data_of(event) == shown(alice_client, "tasks", event.object_id)


class TestWhoGetsWhat:
    def test_one_delivery_per_enabled_webhook_that_wants_the_type(self, alice_client, user):
        tasks = add_webhook(alice_client, "task.*")
        created_only = add_webhook(alice_client, "task.created")
        categories = add_webhook(alice_client, "category.*")
        disabled = add_webhook(alice_client, "*")
        send(alice_client, "patch", f"{WEBHOOKS}/{disabled.pk}", {"enabled": False})

        task_id = send(alice_client, "post", "/api/tasks", {"title": "T"}, 201)["data"]["id"]
        send(alice_client, "patch", f"/api/tasks/{task_id}", {"title": "T2"})
        category_id = send(alice_client, "post", "/api/categories", {"name": "Home"}, 201)["data"]["id"]

        def receivers(event_type: str) -> set[Webhook]:
            return {delivery.webhook for delivery in Delivery.objects.filter(event__type=event_type)}

        assert recorded(user) == [
            ("task.created", task_id),
            ("task.updated", task_id),
            ("category.created", category_id),
        ]
        assert receivers("task.created") == {tasks, created_only}
        assert receivers("task.updated") == {tasks}
        assert receivers("category.created") == {categories}
        assert not Delivery.objects.filter(webhook=disabled).exists()

    def test_no_event_for_a_type_no_webhook_wants(self, alice_client, user):
        add_webhook(alice_client, "task.deleted")

        task_id = send(alice_client, "post", "/api/tasks", {"title": "T"}, 201)["data"]["id"]
        send(alice_client, "post", "/api/categories", {"name": "Home"}, 201)

        assert recorded(user) == []
        send(alice_client, "delete", f"/api/tasks/{task_id}", status=204)
        assert recorded(user) == [("task.deleted", task_id)]

    def test_no_event_once_every_webhook_is_disabled(self, alice_client, user, everything):
        send(alice_client, "patch", f"{WEBHOOKS}/{everything.pk}", {"enabled": False})

        send(alice_client, "post", "/api/tasks", {"title": "T"}, 201)

        assert recorded(user) == []
        send(alice_client, "patch", f"{WEBHOOKS}/{everything.pk}", {"enabled": True})
        send(alice_client, "post", "/api/tasks", {"title": "T2"}, 201)
        assert [event_type for event_type, _ in recorded(user)] == ["task.created"]

    def test_no_event_for_users_without_webhooks(self, bob_client, other_user, everything):
        send(bob_client, "post", "/api/tasks", {"title": "Bob's"}, 201)
        send(bob_client, "post", "/api/categories", {"name": "Bob's"}, 201)

        assert not Event.objects.exists()

    def test_another_users_webhook_gets_nothing_of_yours(self, alice_client, bob_client, user, other_user):
        alices = add_webhook(alice_client, "*")
        bobs = add_webhook(bob_client, "*")

        task_id = send(alice_client, "post", "/api/tasks", {"title": "Alice's"}, 201)["data"]["id"]
        send(alice_client, "patch", f"/api/tasks/{task_id}/complete")

        assert recorded(other_user) == []
        assert not Delivery.objects.filter(webhook=bobs).exists()
        assert Delivery.objects.filter(webhook=alices).count() == 2


@pytest.mark.django_db(transaction=True)
class TestAtCommit:
    """Committed for real: on PostgreSQL the triggers run at the commit, as in production."""

    def test_a_committed_change_is_recorded(self, alice_client, user):
        webhook = add_webhook(alice_client, "task.*")

        task_id = send(alice_client, "post", "/api/tasks", {"title": "T"}, 201)["data"]["id"]
        send(alice_client, "patch", f"/api/tasks/{task_id}", {"title": "T2"})

        assert recorded(user) == [("task.created", task_id), ("task.updated", task_id)]
        event = Event.objects.order_by("id").last()
        assert data_of(event) == shown(alice_client, "tasks", task_id)
        assert Delivery.objects.filter(webhook=webhook).count() == 2

    def test_a_change_rolled_back_records_nothing(self, alice_client, user, settings):
        add_webhook(alice_client, "*")
        settings.QUOTAS = {**settings.QUOTAS, "tasks": 0}

        response = alice_client.post("/api/tasks", {"title": "Over the quota"})

        assert response.status_code == 409
        assert recorded(user) == []
        assert not Delivery.objects.exists()

    def test_each_change_of_one_transaction_is_recorded_as_the_row_was_then(self, alice_client, user):
        add_webhook(alice_client, "task.*")

        with transaction.atomic():
            task = Task.objects.create(user=user, title="First")
            Task.objects.filter(pk=task.pk).update(title="Second")

        events = list(Event.objects.order_by("id"))
        assert [(event.type, event.data["title"]) for event in events] == [
            ("task.created", "First"),
            ("task.updated", "Second"),
        ]

    def test_a_webhook_of_the_same_user_added_later_gets_only_later_events(self, alice_client, user):
        first = add_webhook(alice_client, "task.created")
        send(alice_client, "post", "/api/tasks", {"title": "Before"}, 201)
        second = add_webhook(alice_client, "task.created")
        send(alice_client, "post", "/api/tasks", {"title": "After"}, 201)

        assert Delivery.objects.filter(webhook=first).count() == 2
        assert [delivery.event.data["title"] for delivery in Delivery.objects.filter(webhook=second)] == [
            "After"
        ]

    @pytest.mark.postgres("a change commits while a webhook is being deleted: row locks of PostgreSQL")
    def test_a_change_committed_while_its_webhook_is_deleted_records_nothing_for_it(self, alice_client, user):
        """The commit waits for the webhook's deletion, then sees it gone: no delivery for it, and
        no error (its foreign key would have refused a delivery of a webhook deleted meanwhile)."""
        webhook = add_webhook(alice_client, "task.*")
        answers = {}

        def create_a_task() -> None:
            try:
                answers["create"] = alice_client.post("/api/tasks", {"title": "Meanwhile"})
            finally:
                connection.close()

        with psycopg.connect(the_test_database_url()) as deleting:
            deleting.execute('DELETE FROM "webhook" WHERE "id" = %s', [webhook.pk])
            thread = threading.Thread(target=create_a_task)
            thread.start()
            wait_until_blocked_on_a_lock("COMMIT")
            deleting.commit()
        thread.join()

        assert answers["create"].status_code == 201, answers["create"].content
        assert not Delivery.objects.exists()
        assert recorded(user) == []
