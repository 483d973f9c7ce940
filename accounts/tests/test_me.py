import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import signed_in_user


def test_me_returns_the_signed_in_user(auth_client, user):
    response = auth_client.get("/api/me")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "id": user.id,
        "name": "Alice",
        "email": "alice@example.com",
        "email_verified": False,
        "image": None,
        "created_at": data["created_at"],
    }
    assert data["created_at"].endswith(("Z", "+00:00"))


def test_me_never_shows_another_user(api_client, user, other_user, make_session):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_session(other_user).token}")

    assert api_client.get("/api/me").json()["data"]["email"] == "bob@example.com"


def test_signed_in_user_is_the_better_auth_user_and_no_one_else(user):
    request = Request(APIRequestFactory().get("/api/me"))
    request.user = user
    assert signed_in_user(request) is user

    request.user = AnonymousUser()
    with pytest.raises(NotAuthenticated):
        signed_in_user(request)
