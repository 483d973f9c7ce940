import pytest


@pytest.fixture
def conversations(make_conversation, make_message, user, other_user):
    alices = make_conversation(user, "Groceries")
    make_message(alices, "add oat milk")
    make_message(alices, "Added task 1.", role="assistant", tool_calls=[{"tool_name": "add_task"}])
    bobs = make_conversation(other_user, "Work")
    make_message(bobs, "what's pending?")
    return alices, bobs


def test_searchable_by_owner_email_and_message_content(operator_client, conversations):
    by_email = operator_client.get("/admin/chat/conversation/", {"q": "bob@example.com"})
    by_content = operator_client.get("/admin/chat/conversation/", {"q": "oat milk"})

    assert by_email.context["cl"].result_count == 1
    assert by_content.context["cl"].result_count == 1
    assert b"Groceries" in by_content.content


def test_the_page_shows_the_messages_read_only(operator_client, conversations):
    alices, _ = conversations

    page = operator_client.get(f"/admin/chat/conversation/{alices.pk}/change/")

    assert page.status_code == 200
    assert b"add oat milk" in page.content
    assert b"Added task 1." in page.content
    inline = page.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission


def test_changelist_query_count_does_not_grow(
    operator_client, make_conversation, user, django_assert_max_num_queries
):
    for number in range(30):
        make_conversation(user, f"Chat {number}")

    with django_assert_max_num_queries(12):
        assert operator_client.get("/admin/chat/conversation/").status_code == 200
