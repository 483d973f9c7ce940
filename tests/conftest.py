import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.cache import cache

from ironclad.throttling import FixedWindowThrottle

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of an empty PostgreSQL database on the test server, dropped afterwards."""
    server = urlsplit(DATABASE_URL)
    admin_url = server._replace(path="/postgres", query="").geturl()
    name = f"ironclad_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_throttle_counts(monkeypatch) -> Iterator[None]:
    """No request counted yet, and a clock stopped mid-window, so that no window boundary falls
    inside a test and resets its counts."""
    monkeypatch.setattr(FixedWindowThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rates(settings):
    """Set throttle rates for this test; DRF reloads its settings when REST_FRAMEWORK changes."""

    def set_rates(**scopes: str) -> None:
        current = settings.REST_FRAMEWORK
        settings.REST_FRAMEWORK = {
            **current,
            "DEFAULT_THROTTLE_RATES": {**current["DEFAULT_THROTTLE_RATES"], **scopes},
        }

    return set_rates
