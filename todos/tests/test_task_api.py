"""Tasks over HTTP: create, read, replace, update, delete, each strictly per user."""

from datetime import UTC, datetime

import pytest

from todos.models import Task

TASKS = "/api/tasks"


def detail(task) -> str:
    return f"{TASKS}/{task.pk}"


def errors(response) -> dict:
    assert response.json()["error"]["code"] == "validation_error"
    return response.json()["error"]["details"]


class TestCreate:
    def test_title_only_gets_the_defaults(self, alice_client, user):
        response = alice_client.post(TASKS, {"title": "Buy milk"})

        assert response.status_code == 201
        data = response.json()["data"]
        assert data == {
            **data,
            "title": "Buy milk",
            "description": "",
            "completed": False,
            "priority": "medium",
            "due_date": None,
            "category_id": None,
            "tags": [],
            "recurrence": "none",
            "completed_at": None,
            "user_id": user.id,
        }
        assert Task.objects.get(pk=data["id"]).user == user

    def test_every_field(self, alice_client, make_category, user):
        work = make_category(user)
        body = {
            "title": "Report",
            "description": "Quarterly numbers",
            "priority": "high",
            "due_date": "2026-12-01T09:30:00+02:00",
            "category_id": work.pk,
            "tags": ["finance", "q4"],
            "recurrence": "weekly",
        }

        data = alice_client.post(TASKS, body).json()["data"]

        assert data["due_date"] == "2026-12-01T07:30:00Z"
        assert {key: data[key] for key in ("priority", "category_id", "tags", "recurrence")} == {
            "priority": "high",
            "category_id": work.pk,
            "tags": ["finance", "q4"],
            "recurrence": "weekly",
        }

    def test_input_is_read_generously_and_written_canonically(self, alice_client):
        body = {"title": "  Call mum  ", "priority": "HIGH", "recurrence": "Daily", "tags": ["a", "b", "a"]}

        data = alice_client.post(TASKS, body).json()["data"]

        assert (data["title"], data["priority"], data["recurrence"], data["tags"]) == (
            "Call mum",
            "high",
            "daily",
            ["a", "b"],
        )

    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("2026-12-01", "2026-12-01T23:59:00Z"),  # a date alone: the end of that day
            ("2026-12-01T09:00", "2026-12-01T09:00:00Z"),
            ("2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z"),
            ("2026-12-01T09:00:00-05:00", "2026-12-01T14:00:00Z"),
        ],
    )
    def test_due_dates_with_or_without_time_and_offset(self, alice_client, given, stored):
        assert (
            alice_client.post(TASKS, {"title": "x", "due_date": given}).json()["data"]["due_date"] == stored
        )

    def test_naive_dates_are_read_in_the_configured_time_zone(self, alice_client, settings):
        settings.TIME_ZONE = "America/New_York"

        data = alice_client.post(TASKS, {"title": "x", "due_date": "2026-12-01T09:00"}).json()["data"]

        assert datetime.fromisoformat(data["due_date"]) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)

    def test_completed_on_create_sets_completed_at(self, alice_client):
        data = alice_client.post(TASKS, {"title": "Done already", "completed": True}).json()["data"]

        assert data["completed"] is True
        assert data["completed_at"] is not None

    def test_read_only_fields_are_refused_by_name(self, alice_client, other_user):
        body = {"title": "x", "user_id": other_user.id, "completed_at": "2020-01-01", "id": 999}

        response = alice_client.post(TASKS, body)

        assert response.status_code == 400
        assert response.json()["error"]["details"] == {
            name: ["This field is read-only."] for name in ("completed_at", "id", "user_id")
        }
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "title"),
            ({"title": ""}, "title"),
            ({"title": "   "}, "title"),
            ({"title": "x" * 201}, "title"),
            ({"title": "x", "description": "d" * 5001}, "description"),
            ({"title": "x", "priority": "urgent"}, "priority"),
            ({"title": "x", "recurrence": "yearly"}, "recurrence"),
            ({"title": "x", "due_date": "next tuesday"}, "due_date"),
            ({"title": "x", "due_date": "2026-13-01"}, "due_date"),
            ({"title": "x", "tags": [f"t{i}" for i in range(21)]}, "tags"),
            ({"title": "x", "tags": ["t" * 51]}, "tags"),
            ({"title": "x", "tags": [""]}, "tags"),
            ({"title": "x", "tags": "not-a-list"}, "tags"),
            ({"title": "x", "category_id": 987654}, "category_id"),
            ({"title": "x", "completed": "perhaps"}, "completed"),
        ],
    )
    def test_invalid_input_is_a_400_naming_the_field(self, alice_client, body, field):
        response = alice_client.post(TASKS, body)

        assert response.status_code == 400
        assert field in errors(response)
        assert not Task.objects.exists()

    def test_limits_are_inclusive(self, alice_client):
        body = {"title": "x" * 200, "description": "d" * 5000, "tags": [f"{i:050d}" for i in range(20)]}

        assert alice_client.post(TASKS, body).status_code == 201

    def test_another_users_category_reads_as_missing(self, alice_client, make_category, other_user):
        bobs = make_category(other_user, "Bob's")

        response = alice_client.post(TASKS, {"title": "x", "category_id": bobs.pk})

        assert response.status_code == 400
        assert "does not exist" in errors(response)["category_id"][0]


class TestReadUpdateDelete:
    def test_retrieve(self, alice_client, make_task, user):
        task = make_task(user, "Mine")

        response = alice_client.get(detail(task))

        assert response.status_code == 200
        assert response.json()["data"]["title"] == "Mine"

    def test_patch_merges(self, alice_client, make_task, user):
        task = make_task(user, "Old", description="keep me", priority="high", tags=["a"])

        data = alice_client.patch(detail(task), {"title": "New"}).json()["data"]

        assert (data["title"], data["description"], data["priority"], data["tags"]) == (
            "New",
            "keep me",
            "high",
            ["a"],
        )

    def test_put_replaces(self, alice_client, make_task, make_category, user):
        task = make_task(
            user,
            "Old",
            description="gone",
            priority="high",
            tags=["a"],
            category=make_category(user),
            recurrence="daily",
        )

        data = alice_client.put(detail(task), {"title": "New"}).json()["data"]

        assert data == {
            **data,
            "title": "New",
            "description": "",
            "priority": "medium",
            "tags": [],
            "category_id": None,
            "recurrence": "none",
            "due_date": None,
        }

    def test_put_needs_a_title(self, alice_client, make_task, user):
        task = make_task(user, "Old")

        response = alice_client.put(detail(task), {"description": "no title"})

        assert response.status_code == 400
        assert "title" in errors(response)
        task.refresh_from_db()
        assert (task.title, task.description) == ("Old", "")

    def test_completing_by_patch_sets_and_clears_completed_at(self, alice_client, make_task, user):
        task = make_task(user)

        done = alice_client.patch(detail(task), {"completed": True}).json()["data"]
        reopened = alice_client.patch(detail(task), {"completed": False}).json()["data"]

        assert done["completed"] is True and done["completed_at"] is not None
        assert reopened["completed"] is False and reopened["completed_at"] is None

    def test_invalid_patch_changes_nothing(self, alice_client, make_task, user):
        task = make_task(user, "Keep")

        response = alice_client.patch(detail(task), {"title": "", "priority": "high"})

        assert response.status_code == 400
        task.refresh_from_db()
        assert (task.title, task.priority) == ("Keep", "medium")

    def test_delete(self, alice_client, make_task, user):
        task = make_task(user)

        assert alice_client.delete(detail(task)).status_code == 204
        assert alice_client.get(detail(task)).status_code == 404
        assert not Task.objects.filter(pk=task.pk).exists()

    def test_unknown_id_is_404(self, alice_client, db):
        response = alice_client.get(f"{TASKS}/424242")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_non_numeric_id_is_404(self, alice_client, db):
        assert alice_client.get(f"{TASKS}/abc").status_code == 404


class TestIsolation:
    """Bob's task does not exist for Alice: 404 for every method, and nothing changes."""

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("get", "", None),
            ("put", "", {"title": "hijacked"}),
            ("patch", "", {"title": "hijacked"}),
            ("delete", "", None),
            ("patch", "/complete", None),
            ("patch", "/complete", {"completed": True}),
        ],
    )
    def test_other_users_task_is_404(self, alice_client, make_task, other_user, method, suffix, body):
        bobs = make_task(other_user, "Bob's secret", recurrence="daily")

        response = getattr(alice_client, method)(f"{detail(bobs)}{suffix}", body)

        assert response.status_code == 404
        assert "Bob's secret" not in response.content.decode()
        bobs.refresh_from_db()
        assert (bobs.title, bobs.completed) == ("Bob's secret", False)
        assert Task.objects.count() == 1

    def test_list_shows_only_my_tasks(self, alice_client, make_task, user, other_user):
        make_task(user, "Alice's")
        make_task(other_user, "Bob's")

        titles = [task["title"] for task in alice_client.get(TASKS).json()["data"]]

        assert titles == ["Alice's"]

    @pytest.mark.parametrize(
        ("method", "path"),
        [("get", TASKS), ("post", TASKS), ("get", f"{TASKS}/1"), ("patch", f"{TASKS}/1/complete")],
    )
    def test_anonymous_is_401(self, api_client, db, method, path):
        assert getattr(api_client, method)(path).status_code == 401


class TestRoutes:
    @pytest.mark.parametrize("slash", ["", "/"])
    def test_every_route_with_and_without_trailing_slash(self, alice_client, make_task, user, slash):
        task = make_task(user)

        assert alice_client.get(f"{TASKS}{slash}").status_code == 200
        assert alice_client.post(f"{TASKS}{slash}", {"title": "x"}).status_code == 201
        assert alice_client.get(f"{detail(task)}{slash}").status_code == 200
        assert alice_client.patch(f"{detail(task)}/complete{slash}").status_code == 200
        assert alice_client.delete(f"{detail(task)}{slash}").status_code == 204

    def test_non_json_body_is_415(self, alice_client, db):
        response = alice_client.generic(
            "POST", TASKS, "title=x", content_type="application/x-www-form-urlencoded"
        )

        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"

    def test_malformed_json_is_400(self, alice_client, db):
        response = alice_client.generic("POST", TASKS, "{not json", content_type="application/json")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "parse_error"

    def test_method_not_allowed_is_405(self, alice_client, db):
        assert alice_client.put(TASKS, {"title": "x"}).status_code == 405


class TestCompatibilityPrefix:
    """/api/{user_id}/tasks...: the same views, for front ends that put the user id in the path."""

    def test_own_user_id_works_for_every_route(self, alice_client, make_task, user):
        task = make_task(user)
        base = f"/api/{user.id}/tasks"

        assert alice_client.get(base).json()["meta"]["total"] == 1
        assert alice_client.post(f"{base}/", {"title": "x"}).status_code == 201
        assert alice_client.get(f"{base}/{task.pk}").json()["data"]["id"] == task.pk
        assert alice_client.patch(f"{base}/{task.pk}/complete").json()["data"]["completed"] is True
        assert alice_client.delete(f"{base}/{task.pk}").status_code == 204

    def test_another_user_id_is_403(self, alice_client, make_task, other_user):
        bobs = make_task(other_user)

        for response in (
            alice_client.get(f"/api/{other_user.id}/tasks"),
            alice_client.post(f"/api/{other_user.id}/tasks", {"title": "x"}),
            alice_client.delete(f"/api/{other_user.id}/tasks/{bobs.pk}"),
        ):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "permission_denied"
        assert Task.objects.filter(pk=bobs.pk).exists()
        assert Task.objects.count() == 1

    def test_anonymous_is_401_before_403(self, api_client, other_user):
        assert api_client.get(f"/api/{other_user.id}/tasks").status_code == 401
