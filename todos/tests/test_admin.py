import pytest


def test_tasks_are_searchable_by_title_and_owner_email(operator_client, make_task, user, other_user):
    make_task(user, "Alice's report")
    make_task(other_user, "Bob's errand")

    by_title = operator_client.get("/admin/todos/task/", {"q": "report"})
    by_email = operator_client.get("/admin/todos/task/", {"q": "bob@example.com"})

    assert by_title.context["cl"].result_count == 1
    assert by_email.context["cl"].result_count == 1
    assert b"Bob&#x27;s errand" in by_email.content


def test_task_filters(operator_client, make_task, user):
    make_task(user, "Done", completed=True)
    make_task(user, "Urgent", priority="high")

    assert (
        operator_client.get("/admin/todos/task/", {"completed__exact": "1"}).context["cl"].result_count == 1
    )
    assert operator_client.get("/admin/todos/task/", {"priority": "high"}).context["cl"].result_count == 1


def test_task_changelist_query_count_does_not_grow(
    operator_client, make_task, make_category, user, django_assert_max_num_queries
):
    work = make_category(user)
    for number in range(30):
        make_task(user, f"Task {number}", category=work)

    with django_assert_max_num_queries(12):
        assert operator_client.get("/admin/todos/task/").status_code == 200


def test_task_and_category_pages_open(operator_client, make_task, make_category, user):
    work = make_category(user)
    task = make_task(user, category=work)

    assert operator_client.get(f"/admin/todos/task/{task.pk}/change/").status_code == 200
    assert operator_client.get(f"/admin/todos/category/{work.pk}/change/").status_code == 200
    assert operator_client.get("/admin/todos/category/", {"q": "alice@"}).context["cl"].result_count == 1


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=9999",
        "created_at__year=9999&created_at__month=12",
        "created_at__year=9999&created_at__month=12&created_at__day=31",
        "created_at__year=99999999999999999999",
    ],
)
def test_a_date_hierarchy_at_the_end_of_time_is_refused_not_a_500(operator_client, query):
    response = operator_client.get(f"/admin/todos/task/?{query}")

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_a_date_in_the_add_pages_query_string_is_ignored(operator_client):
    response = operator_client.get("/admin/todos/task/add/?due_date=garbage&title=From+a+link")

    assert response.status_code == 200
    assert b"From a link" in response.content  # the other initial values still apply
