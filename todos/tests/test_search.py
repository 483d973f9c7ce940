"""Searching tasks (`search`): text in the title or description, in any case; bounded in length, and
read from the trigram indexes of the user's tasks however many they have (PostgreSQL)."""

import pytest
from django.db import connection

from tests.conftest import ON_POSTGRES


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


@pytest.mark.skipif(not ON_POSTGRES, reason="the indexes are PostgreSQL's")
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

    def plan(self, client, query: dict) -> str:
        """The plan of `task_search`'s query, as PostgreSQL plans it when the API searches."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'task_search'")
            body, config = cursor.fetchone()
            assert config == ["enable_seqscan=off"]
            cursor.execute("SET LOCAL enable_seqscan = off")
            pattern = f"{client.user.pk} %{query['search']}%"
            cursor.execute(f"EXPLAIN {body.replace('pattern', '%s')}", [pattern, pattern])
            return "\n".join(row for (row,) in cursor.fetchall())

    def test_search_reads_the_users_trigram_indexes_whatever_the_table_holds(
        self, alice_client, user, accounts
    ):
        alice_client.user = user
        for term in ("zebra", "meeting", "word17"):  # absent; common in the table, absent for Alice; hers
            plan = self.plan(alice_client, {"search": term})

            assert "Bitmap Index Scan on task_title_trgm" in plan, plan
            assert "Bitmap Index Scan on task_description_trgm" in plan, plan
            assert "Filter" not in plan and "Seq Scan" not in plan, plan

    def test_the_list_reads_its_page_and_total_in_one_query(
        self, alice_client, accounts, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(2):
            response = alice_client.get("/api/tasks", {"search": "word17", "completed": "false"})

        assert response.json()["meta"]["total"] == 125
