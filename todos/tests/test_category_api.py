"""Categories over HTTP, per user; deleting one leaves its tasks uncategorised."""

import pytest

from todos.models import Category, Task

CATEGORIES = "/api/categories"


def test_create_and_read(alice_client, user):
    response = alice_client.post(CATEGORIES, {"name": "Work", "color": "#AABBCC"})

    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["name"], data["color"]) == ("Work", "#aabbcc")
    assert set(data) == {"id", "name", "color", "created_at", "updated_at"}
    assert alice_client.get(f"{CATEGORIES}/{data['id']}").json()["data"]["name"] == "Work"
    assert Category.objects.get(pk=data["id"]).user == user


def test_list_is_paginated_and_mine_only(alice_client, make_category, user, other_user):
    make_category(user, "Home")
    make_category(user, "Work")
    make_category(other_user, "Bob's")

    body = alice_client.get(CATEGORIES).json()

    assert [category["name"] for category in body["data"]] == ["Home", "Work"]
    assert body["meta"]["total"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 51},
        {"name": "ok", "color": "red"},
        {"name": "ok", "color": "#abc"},
    ],
)
def test_invalid_input_is_400(alice_client, db, body):
    response = alice_client.post(CATEGORIES, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not Category.objects.exists()


def test_names_are_unique_per_user_regardless_of_case(alice_client, bob_client, make_category, user):
    make_category(user, "Work")

    mine = alice_client.post(CATEGORIES, {"name": "WORK"})
    bobs = bob_client.post(CATEGORIES, {"name": "Work"})

    assert mine.status_code == 409
    assert mine.json()["error"]["code"] == "conflict"
    assert "name" in mine.json()["error"]["details"]
    assert bobs.status_code == 201


def test_renaming_to_its_own_name_in_another_case_is_fine(alice_client, make_category, user):
    work = make_category(user, "Work")

    assert alice_client.patch(f"{CATEGORIES}/{work.pk}", {"name": "WORK"}).status_code == 200


def test_put_replaces_and_patch_merges(alice_client, make_category, user):
    work = make_category(user, "Work", color="#112233")

    patched = alice_client.patch(f"{CATEGORIES}/{work.pk}", {"name": "Job"}).json()["data"]
    replaced = alice_client.put(f"{CATEGORIES}/{work.pk}", {"name": "Office"}).json()["data"]

    assert (patched["name"], patched["color"]) == ("Job", "#112233")
    assert (replaced["name"], replaced["color"]) == ("Office", None)


def test_deleting_a_category_leaves_its_tasks_uncategorised(alice_client, make_category, make_task, user):
    work = make_category(user, "Work")
    task = make_task(user, category=work)

    assert alice_client.delete(f"{CATEGORIES}/{work.pk}").status_code == 204

    task.refresh_from_db()
    assert task.category_id is None
    assert alice_client.get(f"/api/tasks/{task.pk}").json()["data"]["category_id"] is None


@pytest.mark.parametrize(
    ("method", "body"),
    [("get", None), ("put", {"name": "Mine now"}), ("patch", {"name": "x"}), ("delete", None)],
)
def test_other_users_category_is_404(alice_client, make_category, other_user, method, body):
    bobs = make_category(other_user, "Bob's")

    response = getattr(alice_client, method)(f"{CATEGORIES}/{bobs.pk}", body)

    assert response.status_code == 404
    bobs.refresh_from_db()
    assert bobs.name == "Bob's"


def test_compatibility_prefix(alice_client, user, other_user):
    assert alice_client.post(f"/api/{user.id}/categories/", {"name": "Work"}).status_code == 201
    assert alice_client.get(f"/api/{user.id}/categories").json()["meta"]["total"] == 1
    assert alice_client.get(f"/api/{other_user.id}/categories").status_code == 403


@pytest.mark.parametrize("slash", ["", "/"])
def test_routes_with_and_without_trailing_slash(alice_client, make_category, user, slash):
    work = make_category(user)

    assert alice_client.get(f"{CATEGORIES}{slash}").status_code == 200
    assert alice_client.get(f"{CATEGORIES}/{work.pk}{slash}").status_code == 200


def test_anonymous_is_401(api_client, db):
    assert api_client.get(CATEGORIES).status_code == 401
    assert api_client.post(CATEGORIES, {"name": "x"}).status_code == 401
    assert not Task.objects.exists()
