"""GET /api/tasks: filters, search, ordering, pagination, and a constant query count."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.tokens import mint_jwt

TASKS = "/api/tasks"


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()["data"]]


@pytest.fixture
def tasks(make_task, make_category, user, other_user):
    """Alice's tasks, created oldest first, and one of Bob's that must never show."""
    work = make_category(user, "Work")
    now = timezone.now()
    created = [
        make_task(
            user,
            "Write report",
            description="quarterly numbers",
            priority="high",
            category=work,
            tags=["work", "q4"],
            due_date=now - timedelta(days=1),
        ),
        make_task(user, "Buy milk", priority="low", tags=["home"], due_date=now + timedelta(days=2)),
        make_task(
            user,
            "Call mum",
            priority="medium",
            completed=True,
            completed_at=now,
            due_date=now - timedelta(days=3),
        ),
        make_task(user, "Archive mail", priority="high"),
    ]
    make_task(other_user, "Bob's task", priority="high", tags=["work"])
    return {"work": work, "tasks": created, "now": now}


def test_default_order_is_newest_first(alice_client, tasks):
    assert titles(alice_client.get(TASKS)) == ["Archive mail", "Call mum", "Buy milk", "Write report"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("completed=true", ["Call mum"]),
        ("completed=false", ["Archive mail", "Buy milk", "Write report"]),
        ("status=all", ["Archive mail", "Call mum", "Buy milk", "Write report"]),
        ("status=pending", ["Archive mail", "Buy milk", "Write report"]),
        ("status=completed", ["Call mum"]),
        ("status=COMPLETED", ["Call mum"]),
        ("priority=high", ["Archive mail", "Write report"]),
        ("priority=HIGH", ["Archive mail", "Write report"]),
        ("tag=work", ["Write report"]),
        ("tag=nothing", []),
        ("search=REPORT", ["Write report"]),
        ("search=quarterly", ["Write report"]),
        ("search=mil", ["Buy milk"]),
        ("overdue=true", ["Write report"]),
        ("overdue=false", ["Archive mail", "Call mum", "Buy milk"]),
        ("priority=high&tag=q4", ["Write report"]),
    ],
)
def test_filters(alice_client, tasks, query, expected):
    assert titles(alice_client.get(f"{TASKS}?{query}")) == expected


def test_category_filter(alice_client, tasks):
    assert titles(alice_client.get(f"{TASKS}?category={tasks['work'].pk}")) == ["Write report"]
    assert titles(alice_client.get(f"{TASKS}?category=987654")) == []


def test_due_date_range(alice_client, tasks):
    now = tasks["now"]
    after = (now - timedelta(days=2)).isoformat()
    before = (now + timedelta(days=1)).isoformat()

    response = alice_client.get(TASKS, {"due_after": after, "due_before": before})

    assert titles(response) == ["Write report"]


def test_due_dates_accept_a_plain_date(alice_client, make_task, user):
    make_task(user, "December", due_date=datetime(2026, 12, 10, 12, tzinfo=UTC))
    make_task(user, "January", due_date=datetime(2027, 1, 10, 12, tzinfo=UTC))

    assert titles(alice_client.get(f"{TASKS}?due_before=2027-01-01&due_after=2026-12-01")) == ["December"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ordering=title", ["Archive mail", "Buy milk", "Call mum", "Write report"]),
        ("ordering=-title", ["Write report", "Call mum", "Buy milk", "Archive mail"]),
        ("ordering=created_at", ["Write report", "Buy milk", "Call mum", "Archive mail"]),
        ("ordering=-created_at", ["Archive mail", "Call mum", "Buy milk", "Write report"]),
        ("ordering=due_date", ["Call mum", "Write report", "Buy milk", "Archive mail"]),
        ("ordering=-due_date", ["Buy milk", "Write report", "Call mum", "Archive mail"]),
        # By meaning (high > medium > low), not alphabetically; ties newest first.
        ("ordering=-priority", ["Archive mail", "Write report", "Call mum", "Buy milk"]),
        ("ordering=priority", ["Buy milk", "Call mum", "Write report", "Archive mail"]),
        ("sort=title&order=asc", ["Archive mail", "Buy milk", "Call mum", "Write report"]),
        ("sort=title", ["Write report", "Call mum", "Buy milk", "Archive mail"]),
        ("sort=priority&order=desc", ["Archive mail", "Write report", "Call mum", "Buy milk"]),
        ("sort=created&order=asc", ["Write report", "Buy milk", "Call mum", "Archive mail"]),
        ("sort=due_date&order=asc", ["Call mum", "Write report", "Buy milk", "Archive mail"]),
        # `order` alone turns the default order round; `ordering` wins over `sort`.
        ("order=asc", ["Write report", "Buy milk", "Call mum", "Archive mail"]),
        ("ordering=title&sort=priority&order=desc", ["Archive mail", "Buy milk", "Call mum", "Write report"]),
    ],
)
def test_ordering(alice_client, tasks, query, expected):
    assert titles(alice_client.get(f"{TASKS}?{query}")) == expected


def test_ordering_by_updated_at(alice_client, tasks):
    oldest = tasks["tasks"][0]
    alice_client.patch(f"{TASKS}/{oldest.pk}", {"description": "touched"})

    assert titles(alice_client.get(f"{TASKS}?ordering=-updated_at"))[0] == "Write report"
    assert titles(alice_client.get(f"{TASKS}?sort=updated&order=asc"))[-1] == "Write report"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("completed=maybe", "completed"),
        ("status=done", "status"),
        ("priority=urgent", "priority"),
        ("category=abc", "category"),
        ("due_before=someday", "due_before"),
        ("due_after=2026-02-30", "due_after"),
        ("overdue=perhaps", "overdue"),
        ("ordering=colour", "ordering"),
        ("sort=colour", "sort"),
        ("order=sideways&sort=title", "order"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=ten", "page_size"),
    ],
)
def test_invalid_query_values_are_400(alice_client, tasks, query, field):
    response = alice_client.get(f"{TASKS}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]


def test_pagination(alice_client, make_task, user):
    for number in range(45):
        make_task(user, f"Task {number:02d}")

    first = alice_client.get(TASKS)
    third = alice_client.get(f"{TASKS}?page=3&page_size=20")
    big = alice_client.get(f"{TASKS}?page_size=100")

    assert first.json()["meta"] == {"page": 1, "page_size": 20, "total": 45, "pages": 3}
    assert len(first.json()["data"]) == 20
    assert third.json()["meta"] == {"page": 3, "page_size": 20, "total": 45, "pages": 3}
    assert titles(third) == ["Task 04", "Task 03", "Task 02", "Task 01", "Task 00"]
    assert len(big.json()["data"]) == 45


def test_page_past_the_end_is_404(alice_client, make_task, user):
    make_task(user)

    response = alice_client.get(f"{TASKS}?page=2")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_empty_list(alice_client, db):
    response = alice_client.get(TASKS)

    assert response.json() == {"data": [], "meta": {"page": 1, "page_size": 20, "total": 0, "pages": 0}}


class TestQueryCount:
    """A page costs 2 queries (credential; page with its total) whatever its size or filters."""

    @pytest.fixture
    def many(self, make_task, make_category, user):
        work = make_category(user)
        for number in range(120):
            make_task(user, f"Task {number}", category=work if number % 2 else None, tags=["a", "b"])

    @pytest.mark.parametrize(
        "query", ["page_size=1", "page_size=100", "ordering=-priority&page_size=100&tag=a"]
    )
    def test_with_the_cookie(self, alice_client, many, django_assert_max_num_queries, query):
        with django_assert_max_num_queries(2):
            response = alice_client.get(f"{TASKS}?{query}")
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "query", ["page_size=1", "page_size=100", "status=pending&search=task&page_size=100"]
    )
    def test_with_a_jwt(self, api_client, user, many, django_assert_max_num_queries, query):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}")

        with django_assert_max_num_queries(2):
            response = api_client.get(f"{TASKS}?{query}")
        assert response.status_code == 200
