"""ETag, If-None-Match and If-Match (RFC 9110) on tasks, categories and conversations."""

import pytest

from chat.models import Conversation
from tests.net import run_concurrently
from todos.models import Category, Task


def etag_of(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response["ETag"]


class TestETag:
    def test_every_answer_about_a_task_carries_the_etag_a_get_gives(self, alice_client, user):
        created = alice_client.post("/api/tasks", {"title": "T"})
        path = f"/api/tasks/{created.json()['data']['id']}"
        assert created["ETag"] == etag_of(alice_client, path)

        updated = alice_client.patch(path, {"title": "T2"})
        assert updated["ETag"] == etag_of(alice_client, path) != created["ETag"]

        completed = alice_client.patch(f"{path}/complete")
        assert completed["ETag"] == etag_of(alice_client, path) != updated["ETag"]

        replaced = alice_client.put(path, {"title": "T3"})
        assert replaced["ETag"] == etag_of(alice_client, path)

    def test_it_is_strong_and_quoted(self, alice_client, user, make_task):
        etag = etag_of(alice_client, f"/api/tasks/{make_task(user).pk}")
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")

    def test_it_changes_when_the_database_changes_the_task(
        self, alice_client, user, make_task, make_category
    ):
        """Deleting its category sets the task's category to NULL in the database."""
        work = make_category(user)
        task = make_task(user, category=work)
        before = etag_of(alice_client, f"/api/tasks/{task.pk}")
        alice_client.delete(f"/api/categories/{work.pk}")
        assert etag_of(alice_client, f"/api/tasks/{task.pk}") != before

    def test_categories_and_conversations_have_one(self, alice_client, user, make_category):
        category = make_category(user)
        conversation = Conversation.objects.create(user=user, title="Hi")
        for path in (f"/api/categories/{category.pk}", f"/api/conversations/{conversation.pk}"):
            assert alice_client.get(path)["ETag"].startswith('"')
        renamed = alice_client.patch(f"/api/categories/{category.pk}", {"name": "Home"})
        assert renamed["ETag"] == etag_of(alice_client, f"/api/categories/{category.pk}")

    def test_lists_have_none(self, alice_client, user, make_task):
        make_task(user)
        assert "ETag" not in alice_client.get("/api/tasks")


class TestIfNoneMatch:
    @pytest.mark.parametrize("header", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
    def test_a_current_copy_gets_a_304_without_a_body(self, alice_client, user, make_task, header):
        path = f"/api/tasks/{make_task(user).pk}"
        etag = etag_of(alice_client, path)

        response = alice_client.get(path, HTTP_IF_NONE_MATCH=header.format(etag=etag))

        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag

    def test_a_stale_copy_gets_the_task(self, alice_client, user, make_task):
        task = make_task(user)
        path = f"/api/tasks/{task.pk}"
        etag = etag_of(alice_client, path)
        alice_client.patch(path, {"title": "Changed"})

        response = alice_client.get(path, HTTP_IF_NONE_MATCH=etag)

        assert response.status_code == 200
        assert response.json()["data"]["title"] == "Changed"

    def test_another_users_task_is_a_404_whatever_the_etag(
        self, alice_client, bob_client, other_user, make_task
    ):
        path = f"/api/tasks/{make_task(other_user).pk}"
        etag = etag_of(bob_client, path)
        for header in (etag, "*"):
            assert alice_client.get(path, HTTP_IF_NONE_MATCH=header).status_code == 404

    def test_on_a_write_a_match_is_a_412(self, alice_client, user, make_task):
        path = f"/api/tasks/{make_task(user).pk}"
        response = alice_client.put(path, {"title": "Replaced"}, HTTP_IF_NONE_MATCH="*")
        assert response.status_code == 412
        assert Task.objects.get().title == "A task"


class TestIfMatch:
    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("patch", "", {"title": "Mine"}),
            ("put", "", {"title": "Mine"}),
            ("delete", "", None),
            ("patch", "/complete", None),
        ],
        ids=["patch", "put", "delete", "complete"],
    )
    def test_a_write_over_a_stale_version_is_a_412_and_changes_nothing(
        self, alice_client, user, make_task, method, suffix, body
    ):
        task = make_task(user, "Original")
        path = f"/api/tasks/{task.pk}"
        stale = etag_of(alice_client, path)
        alice_client.patch(path, {"title": "Someone else's edit"})

        response = getattr(alice_client, method)(path + suffix, body, HTTP_IF_MATCH=stale)

        assert response.status_code == 412
        error = response.json()["error"]
        assert error["code"] == "precondition_failed"
        task.refresh_from_db()
        assert (task.title, task.completed) == ("Someone else's edit", False)

    @pytest.mark.parametrize(
        ("method", "suffix", "body", "status"),
        [
            ("patch", "", {"title": "Mine"}, 200),
            ("put", "", {"title": "Mine"}, 200),
            ("delete", "", None, 204),
            ("patch", "/complete", None, 200),
        ],
        ids=["patch", "put", "delete", "complete"],
    )
    @pytest.mark.parametrize("header", ["{etag}", '"other", {etag}', "*"])
    def test_a_write_over_the_current_version_goes_through(
        self, alice_client, user, make_task, method, suffix, body, status, header
    ):
        path = f"/api/tasks/{make_task(user).pk}"
        etag = etag_of(alice_client, path)

        response = getattr(alice_client, method)(path + suffix, body, HTTP_IF_MATCH=header.format(etag=etag))

        assert response.status_code == status

    def test_a_weak_etag_never_matches(self, alice_client, user, make_task):
        path = f"/api/tasks/{make_task(user).pk}"
        etag = etag_of(alice_client, path)
        assert alice_client.patch(path, {"title": "x"}, HTTP_IF_MATCH=f"W/{etag}").status_code == 412

    def test_a_deleted_task_is_a_404_even_with_star(self, alice_client, user, make_task):
        task = make_task(user)
        path = f"/api/tasks/{task.pk}"
        task.delete()
        assert alice_client.patch(path, {"title": "x"}, HTTP_IF_MATCH="*").status_code == 404

    def test_another_users_etag_is_worth_nothing(self, alice_client, bob_client, user, other_user, make_task):
        alices, bobs = make_task(user), make_task(other_user)
        bobs_etag = etag_of(bob_client, f"/api/tasks/{bobs.pk}")
        # On Bob's task: 404, as without the header; on Alice's: it is not her task's tag.
        assert alice_client.delete(f"/api/tasks/{bobs.pk}", HTTP_IF_MATCH=bobs_etag).status_code == 404
        assert alice_client.delete(f"/api/tasks/{alices.pk}", HTTP_IF_MATCH=bobs_etag).status_code == 412
        assert Task.objects.count() == 2

    def test_categories(self, alice_client, user, make_category):
        category = make_category(user)
        path = f"/api/categories/{category.pk}"
        stale = etag_of(alice_client, path)
        alice_client.patch(path, {"color": "#112233"})
        assert alice_client.delete(path, HTTP_IF_MATCH=stale).status_code == 412
        assert alice_client.delete(path, HTTP_IF_MATCH=etag_of(alice_client, path)).status_code == 204
        assert not Category.objects.exists()

    def test_conversations(self, alice_client, user):
        conversation = Conversation.objects.create(user=user, title="Hi")
        path = f"/api/conversations/{conversation.pk}"
        stale = etag_of(alice_client, path)
        conversation.title = "Renamed"
        conversation.save()
        assert alice_client.delete(path, HTTP_IF_MATCH=stale).status_code == 412
        assert alice_client.delete(path, HTTP_IF_MATCH=etag_of(alice_client, path)).status_code == 204

    def test_with_an_idempotency_key_the_refusal_is_replayed_but_not_for_a_new_etag(
        self, alice_client, user, make_task
    ):
        task = make_task(user)
        path = f"/api/tasks/{task.pk}/complete"
        first = alice_client.patch(path, HTTP_IF_MATCH='"stale"', HTTP_IDEMPOTENCY_KEY="k")
        again = alice_client.patch(path, HTTP_IF_MATCH='"stale"', HTTP_IDEMPOTENCY_KEY="k")
        assert first.status_code == again.status_code == 412
        assert again["Idempotent-Replayed"] == "true"
        # Read again, and retried with the new ETag: another request, which needs another key.
        fresh = etag_of(alice_client, f"/api/tasks/{task.pk}")
        response = alice_client.patch(path, HTTP_IF_MATCH=fresh, HTTP_IDEMPOTENCY_KEY="k")
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert alice_client.patch(path, HTTP_IF_MATCH=fresh, HTTP_IDEMPOTENCY_KEY="k2").status_code == 200

    # Not quoted tags; empty (what granian makes of a value that does not decode); not ASCII.
    MALFORMED = ["abc123", "W/", '"unclosed', '"a" "b"', "", " ", ",", '"café"']

    @pytest.mark.parametrize("header", ["HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH"])
    @pytest.mark.parametrize("value", MALFORMED)
    def test_a_condition_that_is_not_a_list_of_quoted_tags_is_a_400_and_nothing_changes(
        self, alice_client, user, make_task, header, value
    ):
        task = make_task(user, "Kept")
        path = f"/api/tasks/{task.pk}"

        for response in (
            alice_client.patch(path, {"title": "Changed"}, **{header: value}),
            alice_client.delete(path, **{header: value}),
            alice_client.get(path, **{header: value}),
        ):
            assert response.status_code == 400, response.content
            name = header.removeprefix("HTTP_").replace("_", "-").title()
            assert list(response.json()["error"]["details"]) == [name]
        task.refresh_from_db()
        assert task.title == "Kept"

    @pytest.mark.parametrize("value", ['"a", , "b"', ', "b"', '"b",', ' , "b" ,, '])
    def test_empty_list_elements_are_ignored(self, alice_client, user, make_task, value):
        """RFC 9110 §5.6.1: a recipient accepts empty elements of a list and ignores them."""
        path = f"/api/tasks/{make_task(user).pk}"
        etag = alice_client.get(path)["ETag"]
        current = value.replace('"b"', etag)

        assert alice_client.get(path, HTTP_IF_NONE_MATCH=current).status_code == 304
        assert alice_client.patch(path, {"title": "x"}, HTTP_IF_MATCH=value).status_code == 412
        assert alice_client.patch(path, {"title": "x"}, HTTP_IF_MATCH=current).status_code == 200

    @pytest.mark.parametrize("value", ['"stale"', "*", "garbage"])
    def test_options_describes_the_route_whatever_the_conditions(self, alice_client, user, make_task, value):
        path = f"/api/tasks/{make_task(user).pk}"
        assert alice_client.options(path, HTTP_IF_MATCH=value, HTTP_IF_NONE_MATCH=value).status_code == 200

    def test_dates_are_ignored_without_a_last_modified(self, alice_client, user, make_task):
        """Ironclad sends no Last-Modified: If-Unmodified-Since and If-Modified-Since do nothing."""
        path = f"/api/tasks/{make_task(user).pk}"
        long_ago = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert alice_client.get(path, HTTP_IF_UNMODIFIED_SINCE=long_ago).status_code == 200
        assert (
            alice_client.get(path, HTTP_IF_MODIFIED_SINCE="Fri, 01 Jan 2100 00:00:00 GMT").status_code == 200
        )
        assert alice_client.patch(path, {"title": "x"}, HTTP_IF_UNMODIFIED_SINCE=long_ago).status_code == 200


def test_the_front_end_may_send_the_headers_and_read_the_answers(api_client, alice_client, user, make_task):
    preflight = api_client.options(
        "/api/tasks/1/complete",
        HTTP_ORIGIN="http://localhost:3000",  # FRONTEND_ORIGIN in the tests
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, idempotency-key, if-match, if-none-match",
    )
    allowed = {name.strip() for name in preflight["Access-Control-Allow-Headers"].split(",")}
    assert {"idempotency-key", "if-match", "if-none-match"} <= allowed

    response = alice_client.get(f"/api/tasks/{make_task(user).pk}")
    exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "idempotent-replayed"} <= exposed


@pytest.mark.postgres("concurrent requests are proven on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_writes_over_one_version_one_wins(client_for, user, make_task):
    """Both read version 1 and send If-Match with it: the check and the write hold the row, so
    the second sees the first's change and gets a 412 instead of overwriting it."""
    task = make_task(user, "v1")
    clients = [client_for(user) for _ in range(6)]
    etag = etag_of(clients[0], f"/api/tasks/{task.pk}")
    statuses = run_concurrently(
        6,
        lambda: clients.pop().patch(f"/api/tasks/{task.pk}", {"title": "v2"}, HTTP_IF_MATCH=etag).status_code,
    )

    assert sorted(statuses) == [200] + [412] * 5
