"""The credential cache (CREDENTIAL_CACHE_SECONDS): each worker remembers the session tokens and JWTs
it verified, for a while, never past the credential's own expiry, and never one it refused.

Through /api/me, which costs one query (the credential's) when nothing is remembered."""

import math
import time
from datetime import timedelta
from urllib.parse import quote

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import session_signature, sign_session_token
from accounts.models import Session, User, generate_id
from accounts.tokens import mint_jwt

ME = "/api/me"
COOKIE = "better-auth.session_token"


@pytest.fixture(autouse=True)
def cache_seconds(settings):
    """The default, whatever the shell running the tests says."""
    settings.CREDENTIAL_CACHE_SECONDS = 60


def me(client, **headers):
    response = client.get(ME, **headers)
    return response.status_code, (response.json().get("data") or {}).get("id")


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def signed_bearer(token: str) -> dict[str, str]:
    return bearer(sign_session_token(token, settings.BETTER_AUTH_SECRET))


def jwt_expiring_at(user, exp: int) -> str:
    claims = {"sub": user.id, "iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "exp": exp}
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")


class TestRemembered:
    def test_a_session_cookie_costs_no_query_the_second_time(
        self, auth_client, user, django_assert_num_queries
    ):
        with django_assert_num_queries(1):
            assert me(auth_client) == (200, user.id)
        with django_assert_num_queries(0):
            assert me(auth_client) == (200, user.id)

    def test_a_bearer_session_token_costs_no_query_the_second_time(
        self, api_client, session, user, django_assert_num_queries
    ):
        with django_assert_num_queries(1):
            assert me(api_client, **signed_bearer(session.token)) == (200, user.id)
        with django_assert_num_queries(0):
            assert me(api_client, **signed_bearer(session.token)) == (200, user.id)

    def test_a_jwt_costs_no_query_the_second_time(self, api_client, user, django_assert_num_queries):
        token = mint_jwt(user)
        with django_assert_num_queries(1):
            assert me(api_client, **bearer(token)) == (200, user.id)
        with django_assert_num_queries(0):
            assert me(api_client, **bearer(token)) == (200, user.id)

    def test_zero_turns_it_off(self, auth_client, api_client, user, settings, django_assert_num_queries):
        settings.CREDENTIAL_CACHE_SECONDS = 0
        token = mint_jwt(user)
        for _ in range(2):
            with django_assert_num_queries(1):
                assert me(auth_client) == (200, user.id)
            with django_assert_num_queries(1):
                assert me(api_client, **bearer(token)) == (200, user.id)


class TestRevocationWaitsForTheEntry:
    """The documented cost: a revoked credential lasts, where it is remembered, until its entry
    expires (with the cache off it is refused at once: test_cookie_auth.py)."""

    def test_a_signed_out_session_is_accepted_until_the_entry_expires(
        self, auth_client, session, user, settings, django_assert_num_queries
    ):
        settings.CREDENTIAL_CACHE_SECONDS = 1
        assert me(auth_client) == (200, user.id)
        Session.objects.filter(pk=session.pk).delete()  # what better-auth's sign-out does

        with django_assert_num_queries(0):
            assert me(auth_client) == (200, user.id)
        time.sleep(1.2)

        status, code, _ = error_of(auth_client.get(ME))
        assert (status, code) == (401, "invalid_token")

    def test_a_deleted_users_jwt_is_accepted_until_the_entry_expires(self, api_client, user, settings):
        settings.CREDENTIAL_CACHE_SECONDS = 1
        token = mint_jwt(user)
        assert me(api_client, **bearer(token)) == (200, user.id)
        User.objects.filter(pk=user.pk).delete()

        assert me(api_client, **bearer(token)) == (200, user.id)
        time.sleep(1.2)

        status, code, message = error_of(api_client.get(ME, **bearer(token)))
        assert (status, code, message) == (401, "invalid_token", "The token's user does not exist.")


class TestNeverPastTheCredentialsExpiry:
    def test_a_jwt_is_refused_once_its_exp_has_passed(self, api_client, user):
        exp = math.ceil(time.time() + 0.3)  # 0.3 to 1.3 s ahead; the TTL is 60
        token = jwt_expiring_at(user, exp)
        assert me(api_client, **bearer(token)) == (200, user.id)
        assert me(api_client, **bearer(token)) == (200, user.id)  # remembered

        time.sleep(exp - time.time() + 0.05)

        # A remembered JWT is not checked again: only its entry's end can refuse it.
        status, code, message = error_of(api_client.get(ME, **bearer(token)))
        assert (status, code, message) == (401, "invalid_token", "The token has expired.")

    def test_a_session_is_refused_once_it_has_expired(
        self, api_client, make_session, user, session_cookie, django_assert_num_queries
    ):
        session = make_session(user, expires_in=timedelta(seconds=1))
        api_client.cookies[COOKIE] = session_cookie(session.token)
        assert me(api_client) == (200, user.id)
        with django_assert_num_queries(0):
            assert me(api_client) == (200, user.id)  # remembered

        time.sleep((session.expires_at - timezone.now()).total_seconds() + 0.05)

        # One query: the entry ended with the session, and the session was read again.
        with django_assert_num_queries(1):
            response = api_client.get(ME)
        assert error_of(response)[:2] == (401, "session_expired")


class TestIsolation:
    def test_two_users_credentials_never_answer_as_each_other(
        self, client_for, api_client, user, other_user, django_assert_num_queries
    ):
        alice_cookie, bob_cookie = client_for(user), client_for(other_user)
        alice_jwt, bob_jwt = bearer(mint_jwt(user)), bearer(mint_jwt(other_user))
        expected = [
            (alice_cookie, {}, user.id),
            (bob_cookie, {}, other_user.id),
            (api_client, alice_jwt, user.id),
            (api_client, bob_jwt, other_user.id),
        ]
        for client, headers, user_id in expected:  # each verified, and remembered
            assert me(client, **headers) == (200, user_id)

        with django_assert_num_queries(0):
            for _ in range(3):
                for client, headers, user_id in expected:
                    assert me(client, **headers) == (200, user_id)
                for client, headers, user_id in reversed(expected):
                    assert me(client, **headers) == (200, user_id)


class TestRefusalsAreNotRemembered:
    def test_a_jwt_refused_for_a_missing_user_is_accepted_once_the_user_exists(self, api_client, db):
        later = User(id=generate_id(), name="Later", email="later@example.com")
        token = mint_jwt(later)  # not saved yet
        status, code, _ = error_of(api_client.get(ME, **bearer(token)))
        assert (status, code) == (401, "invalid_token")

        later.save()

        assert me(api_client, **bearer(token)) == (200, later.id)

    def test_a_session_token_refused_as_unknown_is_accepted_once_the_session_exists(
        self, api_client, user, session_cookie
    ):
        token = generate_id()
        api_client.cookies[COOKIE] = session_cookie(token)
        status, code, _ = error_of(api_client.get(ME))
        assert (status, code) == (401, "invalid_token")

        Session.objects.create(user=user, token=token, expires_at=timezone.now() + timedelta(days=1))

        assert me(api_client) == (200, user.id)


class TestChangedCredentials:
    """A remembered credential is remembered for its exact string: a changed one is verified."""

    def test_a_session_token_with_a_bad_signature_is_refused(self, auth_client, session, user):
        assert me(auth_client) == (200, user.id)  # remembered
        forged = quote(f"{session.token}.{session_signature(session.token, 'not-the-secret')}", safe="")
        forger = APIClient()
        forger.cookies[COOKIE] = forged

        assert error_of(forger.get(ME))[:2] == (401, "invalid_token")
        assert error_of(APIClient().get(ME, **bearer(forged)))[:2] == (401, "invalid_token")
        assert me(auth_client) == (200, user.id)

    def test_a_jwt_with_a_bad_signature_is_refused(self, api_client, user):
        token = mint_jwt(user)
        assert me(api_client, **bearer(token)) == (200, user.id)  # remembered
        header, payload, signature = token.split(".")
        flipped = "A" if signature[0] != "A" else "B"  # the first character: all six of its bits count
        forged = f"{header}.{payload}.{flipped}{signature[1:]}"

        assert error_of(api_client.get(ME, **bearer(forged)))[:2] == (401, "invalid_token")
        assert me(api_client, **bearer(token)) == (200, user.id)
