"""issue_token and purge_sessions, run with call_command."""

from datetime import timedelta
from io import StringIO

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Session, Verification

ME = "/api/me"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def issue_token(*args: str) -> str:
    return run("issue_token", *args).strip()


def claims_of(token: str, secret: str | None = None) -> dict:
    """The claims of an HS256 token whose signature, issuer and audience hold for the settings."""
    return jwt.decode(
        token,
        secret or settings.JWT_SECRET,
        algorithms=["HS256"],
        issuer=settings.JWT_ISSUER,
        audience=settings.JWT_AUDIENCE,
    )


# --- issue_token -------------------------------------------------------------------


def test_issued_token_authenticates_the_user(api_client, user, other_user):
    token = issue_token("alice@example.com")

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get(ME)

    assert response.status_code == 200, response.content
    assert response.json()["data"]["id"] == user.id


def test_user_is_found_by_id_or_by_email_in_any_case(user):
    for identifier in (user.id, "ALICE@example.com"):
        assert claims_of(issue_token(identifier))["sub"] == user.id


def test_only_the_token_is_printed(user):
    output = run("issue_token", user.email)

    assert output.endswith("\n")
    assert output.strip().count(".") == 2
    assert len(output.strip().split()) == 1


@pytest.mark.parametrize(
    ("lifetime", "expected"),
    [
        (None, timedelta(days=1)),
        ("90", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2W", timedelta(weeks=2)),
    ],
)
def test_lifetime(user, lifetime, expected):
    args = [user.email] if lifetime is None else [user.email, "--lifetime", lifetime]
    claims = claims_of(issue_token(*args))

    assert claims["exp"] - claims["iat"] == expected.total_seconds()


def test_issuer_and_audience_are_ironclad_without_better_auth_url(user):
    assert settings.BETTER_AUTH_URL == ""  # the suite's default

    claims = claims_of(issue_token(user.email))

    assert (claims["iss"], claims["aud"]) == ("ironclad", "ironclad")


def test_issuer_and_audience_are_the_configured_ones(api_client, user, settings):
    settings.JWT_ISSUER = "https://auth.example.com"
    settings.JWT_AUDIENCE = "https://app.example.com"
    token = issue_token(user.email)

    claims = claims_of(token)
    assert (claims["iss"], claims["aud"]) == ("https://auth.example.com", "https://app.example.com")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ME).status_code == 200


def test_token_is_signed_with_jwt_secret(api_client, user, settings):
    settings.JWT_SECRET = "a-separate-jwt-secret-0123456789abcdef"
    token = issue_token(user.email)

    claims_of(token, "a-separate-jwt-secret-0123456789abcdef")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ME).status_code == 200


def test_unknown_user_is_an_error(user):
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        issue_token("nobody@example.com")


@pytest.mark.parametrize("lifetime", ["0", "0d", "-5m", "1y", "1.5h", "abc", "", "99999999999d"])
def test_bad_lifetime_is_an_error(user, lifetime):
    with pytest.raises(CommandError, match="--lifetime"):
        issue_token(user.email, "--lifetime", lifetime)


# --- purge_sessions ----------------------------------------------------------------


@pytest.fixture
def sessions_and_verifications(user, make_session):
    def verification(expires_in: timedelta) -> Verification:
        return Verification.objects.create(
            identifier="reset-password", value="x", expires_at=timezone.now() + expires_in
        )

    live = [make_session(user), make_session(user, expires_in=timedelta(minutes=1))]
    expired = [
        make_session(user, expires_in=-timedelta(seconds=1)),
        make_session(user, expires_in=-timedelta(days=3)),
    ]
    return {
        "live_sessions": live,
        "expired_sessions": expired,
        "live_verifications": [verification(timedelta(hours=1))],
        "expired_verifications": [verification(-timedelta(hours=1))],
    }


def test_purge_deletes_expired_rows_and_keeps_live_ones(sessions_and_verifications):
    rows = sessions_and_verifications

    output = run("purge_sessions")

    assert "Deleted 2 expired sessions and 1 expired verification values." in output
    assert set(Session.objects.values_list("pk", flat=True)) == {s.pk for s in rows["live_sessions"]}
    assert list(Verification.objects.values_list("pk", flat=True)) == [rows["live_verifications"][0].pk]


def test_purge_twice_deletes_nothing_the_second_time(sessions_and_verifications):
    run("purge_sessions")

    assert "Deleted 0 expired sessions and 0 expired verification values." in run("purge_sessions")
    assert Session.objects.count() == 2


def test_dry_run_counts_and_deletes_nothing(sessions_and_verifications):
    output = run("purge_sessions", "--dry-run")

    assert "Would delete 2 expired sessions and 1 expired verification values." in output
    assert Session.objects.count() == 4
    assert Verification.objects.count() == 2
