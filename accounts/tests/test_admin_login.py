"""The admin's sign-in refuses a username or a client IP after too many wrong passwords."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.test import override_settings

from accounts.admin_login import FailureCounter

ROOT = Path(__file__).resolve().parent.parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "a-strong-password-1"
ANOTHER_IP = "192.0.2.7"


@pytest.fixture(autouse=True)
def _fresh_counts(monkeypatch, settings):
    # A fixed clock, so that no window boundary falls inside a test and resets its counts.
    monkeypatch.setattr(FailureCounter, "timer", staticmethod(lambda: 1_800_000_030.0))
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast wrong guesses
    settings.THROTTLE_ADMIN_LOGIN_USERNAME_RATE = "3/15min"
    settings.THROTTLE_ADMIN_LOGIN_IP_RATE = "5/15min"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("operator", "ops@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def other_operator(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD, is_staff=True)


def sign_in(client, username: str, password: str = PASSWORD, ip: str = "127.0.0.1"):
    return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def assert_refused(response) -> None:
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 900
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many failed sign-ins" in response.content


def assert_signed_in(client) -> None:
    assert client.get("/admin/").status_code == 200


def assert_signed_out(client) -> None:
    assert client.get("/admin/").status_code == 302


def test_wrong_passwords_get_the_form_again_up_to_the_limit_then_a_429(client, operator):
    assert [sign_in(client, "operator", "wrong").status_code for _ in range(3)] == [200, 200, 200]

    assert_refused(sign_in(client, "operator", "wrong"))
    assert client.get("/admin/login/").status_code == 200  # the form itself is still shown


def test_the_right_password_is_refused_too_and_not_checked(client, operator):
    for _ in range(3):
        sign_in(client, "operator", "wrong")
    checked = []
    user_login_failed.connect(lambda **kwargs: checked.append(kwargs), dispatch_uid="test-admin-login")

    try:
        assert_refused(sign_in(client, "operator"))
        assert_refused(sign_in(client, "operator", "wrong"))
    finally:
        user_login_failed.disconnect(dispatch_uid="test-admin-login")

    assert checked == []
    assert_signed_out(client)


def test_the_username_is_refused_from_any_ip(client, operator):
    for _ in range(3):
        sign_in(client, "operator", "wrong")

    assert_refused(sign_in(client, "operator", ip=ANOTHER_IP))


def test_another_username_from_another_ip_still_signs_in(client, operator, other_operator):
    for _ in range(3):
        sign_in(client, "operator", "wrong")
    assert_refused(sign_in(client, "operator"))

    assert sign_in(client, "bob", ip=ANOTHER_IP).status_code == 302
    assert_signed_in(client)


def test_a_sign_in_before_the_limit_works_and_is_not_counted(client, operator):
    sign_in(client, "operator", "wrong")
    sign_in(client, "operator", "wrong")

    assert sign_in(client, "operator").status_code == 302
    assert_signed_in(client)

    client.logout()
    assert sign_in(client, "operator", "wrong").status_code == 200  # the third failure
    assert_refused(sign_in(client, "operator", "wrong"))


def test_one_ip_is_limited_across_usernames(client, operator):
    names = ["ann", "ben", "cat", "dan", "eve"]

    assert [sign_in(client, name, "wrong").status_code for name in names] == [200] * 5
    assert_refused(sign_in(client, "operator"))
    assert sign_in(client, "operator", ip=ANOTHER_IP).status_code == 302


def test_spellings_of_one_username_count_together(client, operator):
    for spelling in ["Operator", "  OPERATOR ", "ｏｐｅｒａｔｏｒ"]:  # noqa: RUF001 - fullwidth on purpose
        assert sign_in(client, spelling, "wrong").status_code == 200

    assert_refused(sign_in(client, "operator"))


@pytest.mark.parametrize(
    "username", ["oper\nator", "oper\x00ator", "o" * 10_000], ids=["newline", "nul", "long"]
)
def test_any_username_is_counted_without_error(client, operator, username):
    assert [sign_in(client, username, "wrong").status_code for _ in range(3)] == [200, 200, 200]

    assert_refused(sign_in(client, username, "wrong"))
    assert sign_in(client, "operator", ip=ANOTHER_IP).status_code == 302


def test_a_limit_turned_off_leaves_the_other(client, operator, settings):
    settings.THROTTLE_ADMIN_LOGIN_USERNAME_RATE = None
    settings.THROTTLE_ADMIN_LOGIN_IP_RATE = "6/15min"

    assert {sign_in(client, "operator", "wrong").status_code for _ in range(6)} == {200}
    assert_refused(sign_in(client, "operator"))


SHOW_RATE = "from django.conf import settings; print(settings.THROTTLE_ADMIN_LOGIN_USERNAME_RATE)"


def manage_py(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.live
@pytest.mark.parametrize(
    ("value", "rate"), [("off", "None"), ("", "5/15min"), ("10/30min", "10/30min"), ("3/hour", "3/hour")]
)
def test_off_turns_the_limit_off_and_blank_means_the_default(value, rate):
    result = manage_py("shell", "--no-imports", "-c", SHOW_RATE, THROTTLE_ADMIN_LOGIN_USERNAME_RATE=value)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == rate


@pytest.mark.live
def test_a_malformed_rate_stops_start_up():
    result = manage_py("check", THROTTLE_ADMIN_LOGIN_IP_RATE="20 per 15 minutes")

    assert result.returncode != 0
    assert "THROTTLE_ADMIN_LOGIN_IP_RATE must be a rate such as 5/15min, or off" in result.stderr


def test_counts_in_redis_are_kept_and_taken_back(client, operator):
    redis = pytest.importorskip("redis")
    try:
        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        server.ping()
    except (redis.RedisError, OSError):
        pytest.skip(f"no Redis at {REDIS_URL} (set TEST_REDIS_URL to use another)")
    prefix = f"test-admin-login-{uuid.uuid4().hex}"
    redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}

    # Not the `settings` fixture: the cache must be local memory again before it is cleared.
    with override_settings(CACHES={"default": {**redis_cache, "KEY_PREFIX": prefix}}):
        try:
            sign_in(client, "operator", "wrong")
            assert sign_in(client, "operator").status_code == 302
            client.logout()
            assert [sign_in(client, "operator", "wrong").status_code for _ in range(2)] == [200, 200]
            assert_refused(sign_in(client, "operator"))
        finally:
            for key in server.scan_iter(f"{prefix}:*"):
                server.delete(key)
