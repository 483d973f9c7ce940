"""Operators (Django staff) see better-auth users and sessions and can revoke sessions."""

from accounts.models import Session


def test_admin_needs_a_staff_login(client, db):
    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_better_auth_session_is_not_an_admin_login(client, session, session_cookie):
    client.cookies["better-auth.session_token"] = session_cookie(session.token)

    assert client.get("/admin/accounts/user/").status_code == 302


def test_users_are_listed_and_searchable(operator_client, user, other_user):
    listing = operator_client.get("/admin/accounts/user/")
    search = operator_client.get("/admin/accounts/user/", {"q": "bob@"})

    assert listing.status_code == 200
    assert b"alice@example.com" in listing.content and b"bob@example.com" in listing.content
    assert b"bob@example.com" in search.content and b"alice@example.com" not in search.content


def test_sessions_are_listed_and_searchable_by_email(operator_client, make_session, user, other_user):
    make_session(user)
    bobs = make_session(other_user)

    response = operator_client.get("/admin/accounts/session/", {"q": "bob@example.com"})

    assert response.status_code == 200
    assert bobs.id.encode() in response.content
    assert response.context["cl"].result_count == 1


def test_user_page_opens(operator_client, session, user):
    assert operator_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200


def test_revoking_selected_sessions_signs_those_devices_out(
    operator_client, make_session, user, api_client, session_cookie
):
    revoked, kept = make_session(user), make_session(user)

    response = operator_client.post(
        "/admin/accounts/session/", {"action": "revoke", "_selected_action": [revoked.pk]}, follow=True
    )

    assert response.status_code == 200
    assert list(Session.objects.values_list("pk", flat=True)) == [kept.pk]
    api_client.cookies["better-auth.session_token"] = session_cookie(revoked.token)
    assert api_client.get("/api/me").status_code == 401


def test_revoking_a_users_sessions(operator_client, make_session, user, other_user):
    make_session(user)
    make_session(user)
    bobs = make_session(other_user)

    operator_client.post(
        "/admin/accounts/user/", {"action": "revoke_sessions", "_selected_action": [user.pk]}
    )

    assert list(Session.objects.values_list("pk", flat=True)) == [bobs.pk]
