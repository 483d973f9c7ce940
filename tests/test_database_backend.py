"""ironclad.database: Django's PostgreSQL backend whose health check skips busy connections."""

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.postgres("the backend is PostgreSQL's")


@pytest.fixture
def health_checks(db, settings, monkeypatch):
    """Count the health checks the connection runs (each one a real SELECT 1)."""
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 1.0
    wrapper = connections["default"]
    wrapper.ensure_connection()
    monkeypatch.setattr(wrapper, "health_check_enabled", True, raising=False)
    checks = []
    real_check = wrapper.is_usable

    def counted() -> bool:
        checks.append(1)
        return real_check()

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return checks


def next_request() -> None:
    """What Django does between requests: the next one may check the connection again."""
    connection.health_check_done = False  # type: ignore[attr-defined]  # Django's; django-stubs lacks it


def test_a_connection_used_a_moment_ago_is_not_checked(health_checks):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    next_request()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert health_checks == []


def test_a_connection_idle_for_longer_is_checked(health_checks):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.last_used -= 5  # as if five seconds had passed
    next_request()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert health_checks == [1]


def test_zero_seconds_checks_every_request(health_checks, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    next_request()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert health_checks == [1]
