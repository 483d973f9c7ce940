"""better-auth's bearer plugin: the session token in `Authorization: Bearer`, signed or raw."""

from datetime import timedelta
from urllib.parse import quote

import pytest

from accounts.authentication import sign_session_token

ME = "/api/me"


def bearer(client, credential: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
    return client


def test_signed_token_authenticates(api_client, session, user):
    signed = sign_session_token(session.token, "test-better-auth-secret-0123456789abcdef")

    response = bearer(api_client, signed).get(ME)

    assert response.status_code == 200
    assert response.json()["data"]["id"] == user.id


def test_url_encoded_signed_token_authenticates(api_client, session_cookie, session):
    assert bearer(api_client, session_cookie(session.token)).get(ME).status_code == 200


def test_raw_token_authenticates(api_client, session):
    assert bearer(api_client, session.token).get(ME).status_code == 200


def test_raw_token_is_refused_when_signatures_are_required(api_client, session, settings):
    settings.BETTER_AUTH_BEARER_REQUIRE_SIGNATURE = True

    response = bearer(api_client, session.token).get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_forged_signature_is_rejected(api_client, session):
    forged = sign_session_token(session.token, "wrong-secret")

    assert bearer(api_client, forged).get(ME).status_code == 401


def test_unknown_raw_token_is_rejected(api_client, db):
    assert bearer(api_client, "x" * 32).get(ME).status_code == 401


def test_expired_session_is_rejected(api_client, make_session, user):
    expired = make_session(user, expires_in=timedelta(minutes=-5))

    response = bearer(api_client, expired.token).get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer \u00e9t\u00e9", "Bearer a.b.c", "Bearer ...."],
    ids=["no-token", "blank-token", "two-tokens", "non-ascii", "not-a-jwt", "dots"],
)
def test_garbage_authorization_header_is_401(api_client, db, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get(ME)

    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_other_authorization_schemes_are_not_credentials(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")

    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_bearer_decides_over_a_valid_cookie(auth_client):
    # The first credential present decides: a bad bearer is not rescued by a good cookie.
    bearer(auth_client, quote("not-a-session", safe=""))

    assert auth_client.get(ME).status_code == 401
