"""The better-auth session cookie: signed, looked up, expired, and guarded against CSRF."""

from datetime import timedelta
from urllib.parse import quote

import pytest

from accounts.authentication import session_signature
from accounts.models import Session

ME = "/api/me"
COOKIE = "better-auth.session_token"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_valid_cookie_returns_the_user(auth_client, user):
    response = auth_client.get(ME)

    assert response.status_code == 200
    assert response.json()["data"]["email"] == user.email


def test_secure_prefixed_cookie_is_accepted(api_client, session, session_cookie, user):
    api_client.cookies[f"__Secure-{COOKIE}"] = session_cookie(session.token)

    assert api_client.get(ME).json()["data"]["id"] == user.id


def test_custom_cookie_prefix_is_read(api_client, session, session_cookie, settings):
    settings.BETTER_AUTH_COOKIE_PREFIX = "myapp"
    api_client.cookies[COOKIE] = session_cookie(session.token)
    assert api_client.get(ME).status_code == 401

    api_client.cookies["__Secure-myapp.session_token"] = session_cookie(session.token)
    assert api_client.get(ME).status_code == 200


def test_no_credentials_is_401_with_www_authenticate(api_client, db):
    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_code(response) == "not_authenticated"


def test_forged_signature_is_rejected_without_a_query(api_client, session, django_assert_num_queries):
    forged = session_signature(session.token, "not-the-secret")
    api_client.cookies[COOKIE] = quote(f"{session.token}.{forged}", safe="")

    with django_assert_num_queries(0):
        response = api_client.get(ME)

    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert "WWW-Authenticate" in response.headers


def test_cookie_signed_with_another_secret_is_rejected(api_client, session, session_cookie):
    api_client.cookies[COOKIE] = session_cookie(session.token, secret="another-deployment-secret")

    assert api_client.get(ME).status_code == 401


@pytest.mark.parametrize(
    "value",
    ["", "no-signature-at-all", "token.", ".signature", "token.short", "token.%ZZ", "a" * 5000],
    ids=["empty", "unsigned", "empty-signature", "empty-token", "short-signature", "bad-escape", "huge"],
)
def test_malformed_cookie_is_rejected(api_client, db, value):
    api_client.cookies[COOKIE] = value

    response = api_client.get(ME)

    assert response.status_code == 401


def test_unknown_token_with_valid_signature_is_rejected(api_client, db, session_cookie):
    api_client.cookies[COOKIE] = session_cookie("a-token-that-was-never-issued")

    response = api_client.get(ME)

    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_expired_session_is_rejected(api_client, make_session, user, session_cookie):
    expired = make_session(user, expires_in=timedelta(seconds=-1))
    api_client.cookies[COOKIE] = session_cookie(expired.token)

    response = api_client.get(ME)

    assert response.status_code == 401
    assert error_code(response) == "session_expired"


def test_signed_out_session_is_rejected_at_once_without_the_credential_cache(auth_client, session, settings):
    # With the credential cache off, sign-out is immediate. With it on, a signed-out session lasts
    # until its entry expires: test_credential_cache.py.
    settings.CREDENTIAL_CACHE_SECONDS = 0
    assert auth_client.get(ME).status_code == 200
    Session.objects.filter(pk=session.pk).delete()  # what better-auth's sign-out does

    assert auth_client.get(ME).status_code == 401


def test_deleted_user_is_rejected(auth_client, user):
    user.delete()  # the session row goes with it (ON DELETE CASCADE)

    assert auth_client.get(ME).status_code == 401


def test_cookie_auth_costs_one_query(auth_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert auth_client.get(ME).status_code == 200


def test_session_data_cookie_alone_does_not_authenticate(api_client, session, session_cookie):
    # better-auth's cookie cache still verifies after sign-out: it must never count.
    api_client.cookies["better-auth.session_data"] = session_cookie(session.token)

    assert api_client.get(ME).status_code == 401


class TestOriginCheckOnUnsafeMethods:
    """Cookie-authenticated writes must come from a trusted origin (our CSRF defence)."""

    def test_write_from_a_foreign_origin_is_403(self, auth_client):
        response = auth_client.post(ME, {}, HTTP_ORIGIN="https://evil.example")

        assert response.status_code == 403
        assert error_code(response) == "untrusted_origin"

    def test_write_without_origin_or_referer_is_403(self, auth_client):
        assert auth_client.post(ME, {}).status_code == 403

    def test_write_from_a_foreign_referer_is_403(self, auth_client):
        response = auth_client.post(ME, {}, HTTP_REFERER="https://evil.example/page")

        assert response.status_code == 403

    def test_write_from_the_front_end_origin_passes_the_check(self, auth_client):
        # /api/me is read-only: getting past authentication shows up as 405.
        response = auth_client.post(ME, {}, HTTP_ORIGIN="http://localhost:3000")

        assert response.status_code == 405
        assert error_code(response) == "method_not_allowed"

    def test_write_with_a_trusted_referer_passes_the_check(self, auth_client):
        response = auth_client.post(ME, {}, HTTP_REFERER="http://localhost:3000/dashboard")

        assert response.status_code == 405

    def test_cors_origins_are_trusted_too(self, auth_client, settings):
        settings.TRUSTED_ORIGINS = [*settings.TRUSTED_ORIGINS, "https://app.example"]

        assert auth_client.post(ME, {}, HTTP_ORIGIN="https://app.example").status_code == 405

    def test_bearer_writes_need_no_origin(self, api_client, session):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.token}")

        assert api_client.post(ME, {}).status_code == 405

    def test_reads_need_no_origin(self, auth_client):
        assert auth_client.get(ME, HTTP_ORIGIN="https://evil.example").status_code == 200
