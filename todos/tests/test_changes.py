"""GET /api/changes: what changed since a cursor, in commit order, with tombstones."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from todos.changes import decode_cursor, encode_cursor
from todos.models import Category, Change, Task


def feed(client, cursor: str | None = None, *, status: int = 200, **params) -> dict:
    query = {**params, **({"cursor": cursor} if cursor is not None else {})}
    response = client.get("/api/changes", query)
    assert response.status_code == status, response.content
    return response.json()


def listed(page: dict) -> list[tuple]:
    """(type, id, title or name, or "deleted") of each change, in order."""
    return [
        (c["type"], c["id"], "deleted" if c["deleted"] else c["data"].get("title", c["data"].get("name")))
        for c in page["data"]
    ]


@contextmanager
def held_open(write: Callable[[], object]) -> Iterator[None]:
    """`write` done in a transaction of another connection, left open while the block runs, then
    committed; the test fails if it could not commit."""
    wrote, may_commit = threading.Event(), threading.Event()
    outcome: list[object] = []

    def run() -> None:
        try:
            with transaction.atomic():
                write()
                wrote.set()
                may_commit.wait(10)
            outcome.append("committed")
        except BaseException as error:  # reported below
            outcome.append(error)
        finally:
            wrote.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert wrote.wait(10)
    try:
        yield
    finally:
        may_commit.set()
        thread.join(20)
    assert outcome == ["committed"]


def read_all(client, cursor: str | None) -> tuple[list[tuple], str]:
    changes = []
    while True:
        page = feed(client, cursor, page_size=2)
        changes += listed(page)
        cursor = page["meta"]["cursor"]
        if not page["meta"]["has_more"]:
            return changes, cursor


class TestFeed:
    def test_without_a_cursor_everything_you_have_then_only_what_changed(
        self, alice_client, user, make_task, make_category
    ):
        work = make_category(user, "Work")
        first = make_task(user, "First", category=work)
        gone = make_task(user, "Gone")
        gone.delete()

        page = feed(alice_client)

        assert listed(page) == [("category", work.pk, "Work"), ("task", first.pk, "First")]
        assert page["meta"]["has_more"] is False
        assert feed(alice_client, page["meta"]["cursor"])["data"] == []

        alice_client.patch(f"/api/tasks/{first.pk}", {"title": "First, renamed"})
        second = alice_client.post("/api/tasks", {"title": "Second"}).json()["data"]
        alice_client.delete(f"/api/tasks/{first.pk}")
        later = feed(alice_client, page["meta"]["cursor"])

        # One entry per object, at its latest change: the rename is not listed apart.
        assert listed(later) == [("task", second["id"], "Second"), ("task", first.pk, "deleted")]
        assert later["data"][1] == {"type": "task", "id": first.pk, "deleted": True}

    def test_each_object_is_shown_as_get_shows_it_with_its_etag(self, alice_client, user, make_category):
        work = make_category(user, "Work", color="#aabbcc")
        task = alice_client.post("/api/tasks", {"title": "T", "category_id": work.pk, "tags": ["a"]})

        changes = feed(alice_client)["data"]

        paths = [f"/api/categories/{work.pk}", f"/api/tasks/{task.json()['data']['id']}"]
        for change, path in zip(changes, paths, strict=True):
            shown = alice_client.get(path)
            assert change["data"] == shown.json()["data"]
            assert change["etag"] == shown["ETag"]

    def test_pages_follow_the_cursor_until_has_more_is_false(self, alice_client, user, make_task):
        tasks = [make_task(user, f"T{number}") for number in range(5)]

        changes, cursor = read_all(alice_client, None)

        assert changes == [("task", task.pk, task.title) for task in tasks]
        page = feed(alice_client, cursor)
        assert page["data"] == [] and page["meta"] == {"cursor": cursor, "has_more": False}

    def test_a_change_during_paging_is_read_at_its_new_place(self, alice_client, user, make_task):
        first, second, third = (make_task(user, title) for title in ("A", "B", "C"))
        page = feed(alice_client, page_size=1)
        assert listed(page) == [("task", first.pk, "A")]

        first.title = "A again"
        first.save()  # already read: it comes again, after the rest
        changes, _ = read_all(alice_client, page["meta"]["cursor"])

        assert changes == [("task", second.pk, "B"), ("task", third.pk, "C"), ("task", first.pk, "A again")]

    def test_deleting_a_category_shows_as_changes_of_its_tasks(
        self, alice_client, user, make_task, make_category
    ):
        work = make_category(user, "Work")
        filed = make_task(user, "Filed", category=work)
        make_task(user, "Elsewhere")
        cursor = feed(alice_client)["meta"]["cursor"]

        assert alice_client.delete(f"/api/categories/{work.pk}").status_code == 204
        changes = feed(alice_client, cursor)["data"]

        assert sorted((c["type"], c["id"], c["deleted"]) for c in changes) == [
            ("category", work.pk, True),
            ("task", filed.pk, False),
        ]
        assert next(c for c in changes if c["type"] == "task")["data"]["category_id"] is None

    def test_writes_from_anywhere_are_recorded(self, alice_client, user, make_task):
        """Plain SQL too (another program sharing the database): triggers record the changes."""
        task = make_task(user, "Raw")
        cursor = feed(alice_client)["meta"]["cursor"]
        with connection.cursor() as cursor_:
            cursor_.execute('UPDATE "task" SET "title" = %s WHERE "id" = %s', ["Renamed in SQL", task.pk])

        assert listed(feed(alice_client, cursor)) == [("task", task.pk, "Renamed in SQL")]

    def test_only_your_changes_and_a_cursor_reveals_nothing_of_others(
        self, alice_client, bob_client, user, other_user, make_task
    ):
        alices = make_task(user, "Alice's")
        for number in range(3):
            make_task(other_user, f"Bob's {number}")
        bobs_cursor = feed(bob_client)["meta"]["cursor"]

        assert listed(feed(alice_client)) == [("task", alices.pk, "Alice's")]
        # Bob's cursor sent by Alice: refused (she syncs again from the start), whatever its number.
        for cursor in (bobs_cursor, encode_cursor(replace(decode_cursor(bobs_cursor), seq=0))):
            assert feed(alice_client, cursor, status=410)["error"]["code"] == "cursor_expired"

    def test_a_deleted_user_leaves_no_changes(self, user, make_task):
        make_task(user, "T")
        user.delete()
        assert not Change.objects.exists()


class TestCursor:
    @pytest.mark.parametrize(
        "cursor", ["", "nonsense", "YzE6LTE", "YzE6eA", "%%%", "YzI6MQ", "٣", "YzE6MToyOjM", "YzE6MTo"]
    )
    def test_a_cursor_the_feed_did_not_give_is_a_400(self, alice_client, cursor):
        body = feed(alice_client, cursor, status=400)
        assert body["error"]["code"] == "validation_error"
        assert list(body["error"]["details"]) == ["cursor"]

    def test_a_cursor_past_the_last_change_is_expired(self, alice_client, user, make_task):
        make_task(user)
        cursor = feed(alice_client)["meta"]["cursor"]

        body = feed(
            alice_client,
            encode_cursor(replace(decode_cursor(cursor), seq=decode_cursor(cursor).seq + 1)),
            status=410,
        )
        assert body["error"]["code"] == "cursor_expired"

    def test_tombstones_past_the_kept_days_are_purged_and_older_cursors_expire(
        self, alice_client, user, make_task, settings
    ):
        settings.CHANGE_TOMBSTONE_DAYS = 30
        old, recent = make_task(user, "Old").pk, make_task(user, "Recent").pk
        before = feed(alice_client)["meta"]["cursor"]
        Task.objects.filter(pk=old).delete()
        after_old = feed(alice_client)["meta"]["cursor"]
        Task.objects.filter(pk=recent).delete()
        Change.objects.filter(object_id=old).update(changed_at=timezone.now() - timedelta(days=31))

        call_command("upkeep")

        assert list(Change.objects.filter(deleted=True).values_list("object_id", flat=True)) == [recent]
        assert feed(alice_client, before, status=410)["error"]["code"] == "cursor_expired"
        assert listed(feed(alice_client, after_old)) == [("task", recent, "deleted")]

    def test_a_first_sync_pages_through_even_after_old_tombstones_were_purged(
        self, alice_client, user, make_task
    ):
        """The live objects keep the numbers of their last change, older than the purged
        tombstones: the first sync's cursors must not expire because of them."""
        kept = [make_task(user, f"Kept {number}").pk for number in range(3)]
        Task.objects.filter(pk=make_task(user, "Gone").pk).delete()
        Change.objects.filter(deleted=True).update(changed_at=timezone.now() - timedelta(days=31))
        call_command("upkeep")

        changes, cursor = read_all(alice_client, None)  # two objects a page

        assert changes == [("task", task_id, f"Kept {number}") for number, task_id in enumerate(kept)]
        assert feed(alice_client, cursor)["data"] == []

    def test_a_deletion_during_a_first_sync_is_listed(self, alice_client, user, make_task):
        first, second, third = (make_task(user, title).pk for title in ("A", "B", "C"))
        page = feed(alice_client, page_size=2)
        Task.objects.filter(pk=first).delete()  # already read: the client must hear of it

        changes, _ = read_all(alice_client, page["meta"]["cursor"])

        assert listed(page) == [("task", first, "A"), ("task", second, "B")]
        assert changes == [("task", third, "C"), ("task", first, "deleted")]

    @pytest.mark.parametrize("params", [{"page_size": 0}, {"page_size": 501}, {"page": 2}, {"since": "x"}])
    def test_bad_parameters_are_a_400(self, alice_client, params):
        assert feed(alice_client, status=400, **params)["error"]["code"] == "validation_error"

    def test_signed_out_is_a_401(self, api_client, db):
        assert api_client.get("/api/changes").status_code == 401


class TestCost:
    def test_a_page_costs_the_same_number_of_queries_whatever_its_size(
        self, alice_client, user, make_task, make_category, django_assert_max_num_queries
    ):
        for number in range(30):
            make_task(user, f"T{number}", category=make_category(user, f"C{number}"))
        # Session and user, the counter, the page, its tasks, its categories (and the snapshot).
        with django_assert_max_num_queries(7):
            assert len(feed(alice_client, page_size=60)["data"]) == 60


@pytest.mark.postgres("concurrent transactions are proven on PostgreSQL")
@pytest.mark.django_db(transaction=True)
class TestCommitOrder:
    def test_a_transaction_that_started_first_and_commits_last_is_not_skipped(
        self, client_for, user, make_task
    ):
        """The trap of "changed after the last one seen": T1 starts first (its now() is earlier),
        T2 starts later, changes a task and commits; a reader reads T2's change; then T1 changes
        another task and commits. T1's change is read next, though its time is older than T2's."""
        early, late = make_task(user, "Early"), make_task(user, "Late")
        reader = client_for(user)
        cursor = feed(reader)["meta"]["cursor"]
        t1_started, t2_committed = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def t1() -> None:
            try:
                with transaction.atomic():
                    with connection.cursor() as sql:
                        sql.execute("SELECT now()")  # the transaction has started, and its clock
                    t1_started.set()
                    assert t2_committed.wait(10)
                    Task.objects.filter(pk=early.pk).update(title="Early, committed last")
            except BaseException as error:  # reported by the test below
                errors.append(error)
            finally:
                connection.close()

        def t2() -> None:
            try:
                with transaction.atomic():
                    Task.objects.filter(pk=late.pk).update(title="Late, committed first")
            finally:
                connection.close()

        first = threading.Thread(target=t1)
        first.start()
        assert t1_started.wait(10)
        second = threading.Thread(target=t2)
        second.start()
        second.join()
        page = feed(reader, cursor)
        assert listed(page) == [("task", late.pk, "Late, committed first")]
        t2_committed.set()
        first.join()
        assert errors == []

        assert listed(feed(reader, page["meta"]["cursor"])) == [("task", early.pk, "Early, committed last")]
        early_change, late_change = (Change.objects.get(kind="task", object_id=t.pk) for t in (early, late))
        assert early_change.changed_at < late_change.changed_at  # a clock would have skipped it

    def test_a_transaction_that_wrote_first_and_commits_last_is_not_skipped(
        self, client_for, user, make_task
    ):
        """The trap of a plain sequence: numbers taken at the write (T1 takes 10, T2 11), T2
        commits first, a reader reads 11 and moves past 10 before T1 commits. Here numbers are
        taken at the commit: T2's change is read first, then T1's."""
        first_task, second_task = make_task(user, "One"), make_task(user, "Two")
        reader = client_for(user)
        cursor = feed(reader)["meta"]["cursor"]

        with held_open(lambda: Task.objects.filter(pk=first_task.pk).update(title="One, written first")):
            Task.objects.filter(pk=second_task.pk).update(title="Two, committed first")  # T2, autocommit
            page = feed(reader, cursor)
            assert listed(page) == [("task", second_task.pk, "Two, committed first")]

        assert listed(feed(reader, page["meta"]["cursor"])) == [("task", first_task.pk, "One, written first")]

    def test_a_write_waiting_for_a_row_does_not_deadlock_with_the_counter(
        self, client_for, user, make_task, make_category
    ):
        """T1 files a task under a category and stays open; T2 renames that category (and may wait
        for T1's hold on it). Had T1 checked the category only at its commit, after taking its
        user's counter, while T2 held the category and waited for that counter: a deadlock."""
        work = make_category(user, "Work")
        task = make_task(user, "Report")
        renamed: list[int] = []

        def t2() -> None:
            try:
                renamed.append(
                    client_for(user).patch(f"/api/categories/{work.pk}", {"name": "Office"}).status_code
                )
            finally:
                connection.close()

        second = threading.Thread(target=t2)
        with held_open(lambda: Task.objects.filter(pk=task.pk).update(category_id=work.pk)):
            second.start()
            second.join(1)  # done, or waiting for T1's hold on the category
        second.join(20)

        assert renamed == [200]
        task.refresh_from_db()
        assert (task.category_id, Category.objects.get().name) == (work.pk, "Office")

    def test_two_users_do_not_wait_for_each_other(self, client_for, user, other_user, make_task):
        alices, bobs = make_task(user, "Alice's"), make_task(other_user, "Bob's")

        with held_open(lambda: Task.objects.filter(pk=alices.pk).update(title="Alice's, later")):
            Task.objects.filter(pk=bobs.pk).update(title="Bob's, meanwhile")  # would hang if it waited

        assert [title for *_, title in listed(feed(client_for(other_user)))] == ["Bob's, meanwhile"]
        assert [title for *_, title in listed(feed(client_for(user)))] == ["Alice's, later"]


def test_categories_are_in_the_feed_too(alice_client, user):
    created = alice_client.post("/api/categories", {"name": "Home"}).json()["data"]
    assert listed(feed(alice_client)) == [("category", created["id"], "Home")]
    assert Category.objects.count() == 1
