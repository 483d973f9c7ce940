"""Searching tasks (`search`): text in the title or description, in any case; bounded in length, and
read from the trigram indexes of the user's tasks however many they have (PostgreSQL)."""

import pytest
from django.db import connection

from accounts.models import User


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(task["title"] for task in response.json()["data"])


class TestMeaning:
    def test_a_term_is_found_in_titles_and_descriptions_in_any_case(self, alice_client, user, make_task):
        make_task(user, "Buy MILK")
        make_task(user, "Shopping", description="oat milk, eggs")
        make_task(user, "Call the bank")

        assert titles(alice_client.get("/api/tasks", {"search": "Milk"})) == ["Buy MILK", "Shopping"]
        assert titles(alice_client.get("/api/tasks", {"search": "  milk  "})) == ["Buy MILK", "Shopping"]

    def test_like_wildcards_are_plain_characters(self, alice_client, user, make_task):
        make_task(user, "100% done")
        make_task(user, "100 done")

        assert titles(alice_client.get("/api/tasks", {"search": "100%"})) == ["100% done"]
        assert titles(alice_client.get("/api/tasks", {"search": "100_done"})) == []

    def test_another_users_tasks_are_never_found(self, alice_client, other_user, make_task):
        make_task(other_user, "Bob's milk")

        assert titles(alice_client.get("/api/tasks", {"search": "milk"})) == []

    def test_a_user_whose_id_differs_only_in_case_is_another_user(self, client_for, make_task):
        """The index reads the user's id as text, in any case: the exact check after it decides."""
        lower = User.objects.create(id="user-with-an-id", name="Lower", email="lower@example.com")
        upper = User.objects.create(id="USER-WITH-AN-ID", name="Upper", email="upper@example.com")
        make_task(lower, "Lower's milk")
        make_task(upper, "Upper's milk")

        assert titles(client_for(lower).get("/api/tasks", {"search": "milk"})) == ["Lower's milk"]
        assert titles(client_for(upper).get("/api/tasks", {"search": "MILK"})) == ["Upper's milk"]


class TestBounds:
    def test_a_term_is_at_most_100_characters(self, alice_client, user):
        assert alice_client.get("/api/tasks", {"search": "a" * 100}).status_code == 200

        response = alice_client.get("/api/tasks", {"search": "a" * 101})

        assert response.status_code == 400
        assert response.json()["error"]["details"] == {
            "search": ["Ensure this field has no more than 100 characters."]
        }

    @pytest.mark.parametrize("term", ["ab", "a b c", "c++", "--!", "é1"])
    def test_a_term_needs_three_letters_or_digits_in_a_row(self, alice_client, user, term):
        response = alice_client.get("/api/tasks", {"search": term})

        assert response.status_code == 400
        assert response.json()["error"]["details"]["search"][0].startswith(
            "Give at least 3 letters or digits"
        )

    @pytest.mark.parametrize("term", ["abc", "c++ 101", "Köln", "日本語", "R2D2"])
    def test_any_script_counts(self, alice_client, user, make_task, term):
        make_task(user, f"About {term}")

        assert titles(alice_client.get("/api/tasks", {"search": term})) == [f"About {term}"]


@pytest.mark.postgres("the indexes are PostgreSQL's")
class TestIndexes:
    @pytest.fixture
    def accounts(self, user, other_user):
        """Alice has 5,000 tasks; "meeting" is in 1,000 of Bob's 20,000 titles and none of hers: the
        table's statistics say it is common, for her it is absent."""
        with connection.cursor() as cursor:
            cursor.execute(
                'INSERT INTO "task" ("userId", "title", "description", "completed", "priority", "tags", '
                '"recurrence", "createdAt", "updatedAt") '
                "SELECT CASE WHEN g <= 5000 THEN %s ELSE %s END, "
                "CASE WHEN g %% 20 = 0 THEN 'Weekly meeting ' ELSE 'Task ' END || g, "
                "CASE WHEN g <= 5000 THEN repeat('word' || (g %% 40) || ' ', 40) ELSE '' END, "
                "false, 'medium', '[]', 'none', now(), now() FROM generate_series(1, 25000) AS g",
                [user.pk, other_user.pk],
            )
            cursor.execute("ANALYZE task")

    @pytest.fixture
    def plans(self) -> list[str]:
        """The plans of the statements run from now on: auto_explain reports each, a function's own
        too, as a notice to the client."""
        notices: list[str] = []
        connection.ensure_connection()
        connection.connection.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            for setting in ("log_min_duration = 0", "log_nested_statements = on"):
                cursor.execute(f"SET LOCAL auto_explain.{setting}")
            cursor.execute("SET LOCAL client_min_messages = log")
        return notices

    def test_search_reads_the_users_trigram_indexes_whatever_the_table_holds(
        self, alice_client, accounts, plans
    ):
        for term in ("zebra", "meeting", "word17"):  # absent; common in the table, absent for Alice; hers
            plans.clear()
            assert alice_client.get("/api/tasks", {"search": term}).status_code == 200

            searched = [plan for plan in plans if "ILIKE pattern" in plan]  # task_search's statement
            assert searched, plans
            for plan in searched:  # the page's, and its total's
                assert "Bitmap Index Scan on task_title_trgm" in plan, plan
                assert "Bitmap Index Scan on task_description_trgm" in plan, plan
                assert "Filter" not in plan and "Seq Scan" not in plan, plan

    def test_a_small_account_has_its_own_tasks_read(self, client_for, make_user, make_task, accounts, plans):
        """Up to 500 tasks (task_count), the account's tasks are read: its ids' trigrams may be
        common in the table ("load-000123", numbers), and their posting lists cost more than that."""
        carol = make_user("Carol")
        make_task(carol, "Write the report")
        make_task(carol, "Call the plumber", description="About the report")
        make_task(carol, "Buy milk")
        plans.clear()

        response = client_for(carol).get("/api/tasks", {"search": "REPORT"})

        assert sorted(task["title"] for task in response.json()["data"]) == [
            "Call the plumber",
            "Write the report",
        ]
        searched = [plan for plan in plans if "ILIKE term" in plan]  # task_search's small-account statement
        assert searched, plans
        for plan in searched:
            assert "trgm" not in plan and "Seq Scan" not in plan, plan

    def test_the_list_reads_its_page_and_total_in_one_query(
        self, alice_client, accounts, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(2):
            response = alice_client.get("/api/tasks", {"search": "word17", "completed": "false"})

        assert response.json()["meta"]["total"] == 125
