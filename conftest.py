"""Shared fixtures. Test secrets are set here, before Django reads its settings."""

import os
from collections.abc import Iterator
from datetime import timedelta

import django
import pytest

# The suite reads no .env: a developer's copy of .env.example must not change what is tested.
os.environ.setdefault("ENV_FILE", os.devnull)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("BETTER_AUTH_SECRET", "test-better-auth-secret-0123456789abcdef")
os.environ.setdefault("FRONTEND_ORIGIN", "http://localhost:3000")
os.environ.setdefault("HTTPS_ONLY", "false")
# Every test client comes from 127.0.0.1: rates no suite reaches. Throttle tests set their own.
for _scope in ("USER", "ANON", "CHAT"):
    os.environ.setdefault(f"THROTTLE_{_scope}_RATE", "100000/min")


# Settings load only now, after the test environment above is in place, and before any
# conftest below this folder imports a model.
django.setup()

# No test in this process asks for a static file (the live tests' servers serve them as deployed).
# Refreshed, WhiteNoise looks a file up when asked for it, instead of indexing every static file of
# the apps each time it is built: for every test client, which was most of the suite's time.
django.conf.settings.WHITENOISE_AUTOREFRESH = True

from tests.net import LIVE_SKIP_REASON, ON_POSTGRES, runs_live_tests  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live",
        action="store_true",
        help="run the live tests too (marked `live`: they start servers or subprocesses); CI runs them",
    )


@pytest.hookimpl(trylast=True)  # after tests/interop/conftest.py has marked its tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` skip on SQLite; tests marked `live` skip unless the run asks for
    them (--live, or -m live). Skipped, not deselected: `-ra` counts them and says why."""
    live = runs_live_tests(config)
    for item in items:
        postgres = item.get_closest_marker("postgres")
        if postgres is not None and not ON_POSTGRES:
            # @pytest.mark.postgres("why") says what the test needs of PostgreSQL.
            why = f" ({postgres.args[0]})" if postgres.args else ""
            item.add_marker(
                pytest.mark.skip(reason=f"needs PostgreSQL{why}: set DATABASE_URL=postgres://...")
            )
        elif not live and item.get_closest_marker("live") is not None:
            item.add_marker(pytest.mark.skip(reason=LIVE_SKIP_REASON))


@pytest.fixture(autouse=True)
def deferred_triggers_fire_at_once(request):
    """A test of the `db` fixture runs in a transaction that is rolled back, never committed. The
    change feed's triggers are deferred to the commit on PostgreSQL (todos/migrations/0003), so
    there they fire at the end of each statement instead: what a commit would have recorded."""
    names = request.fixturenames
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in names or (marker is not None and marker.kwargs.get("transaction"))
    if "db" not in names or transactional:
        return
    request.getfixturevalue("db")
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture(autouse=True)
def forget_credentials() -> None:
    """No test sees the credentials that another test's requests left in the credential cache."""
    from django.core.cache import caches

    caches["credentials"].clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def make(name: str = "Alice", email: str | None = None) -> User:
        return User.objects.create(name=name, email=email or f"{name.lower()}@example.com")

    return make


@pytest.fixture
def user(make_user):
    return make_user("Alice")


@pytest.fixture
def other_user(make_user):
    return make_user("Bob")


@pytest.fixture
def make_session(db):
    from django.utils import timezone

    from accounts.models import Session, generate_id

    def make(user, *, expires_in: timedelta = timedelta(days=7)) -> Session:
        return Session.objects.create(user=user, token=generate_id(), expires_at=timezone.now() + expires_in)

    return make


@pytest.fixture
def session(make_session, user):
    return make_session(user)


@pytest.fixture
def session_cookie():
    """Build the signed, URL-encoded cookie value better-auth would set for a token."""
    from urllib.parse import quote

    from django.conf import settings

    from accounts.authentication import sign_session_token

    def build(token: str, secret: str | None = None) -> str:
        return quote(sign_session_token(token, secret or settings.BETTER_AUTH_SECRET), safe="")

    return build


@pytest.fixture
def operator_client(client, db):
    """Django's test client signed in to the admin as a superuser (an operator, not an app user).
    Signed in without a password: none is hashed, at full cost, for every test."""
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("operator", "ops@example.com", password=None)
    client.force_login(operator)
    return client


@pytest.fixture
def auth_client(api_client, session, session_cookie):
    """An API client signed in as `user` with a better-auth session cookie."""
    api_client.cookies["better-auth.session_token"] = session_cookie(session.token)
    return api_client


FRONTEND_ORIGIN = "http://localhost:3000"


@pytest.fixture
def client_for(make_session, session_cookie):
    """An API client signed in as `user` the way the dashboard is: cookie plus its Origin."""
    from rest_framework.test import APIClient

    def build(user) -> APIClient:
        client = APIClient()
        client.cookies["better-auth.session_token"] = session_cookie(make_session(user).token)
        client.credentials(HTTP_ORIGIN=FRONTEND_ORIGIN)
        return client

    return build


@pytest.fixture
def alice_client(client_for, user):
    return client_for(user)


@pytest.fixture
def bob_client(client_for, other_user):
    return client_for(other_user)


@pytest.fixture
def fresh_throttle_counts(monkeypatch) -> Iterator[None]:
    """No request counted yet, and a clock stopped mid-window, so that no window boundary falls
    inside a test and resets its counts."""
    from django.core.cache import cache

    from ironclad.throttling import FixedWindowThrottle

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


@pytest.fixture
def make_task(db):
    from todos.models import Task

    def make(user, title: str = "A task", **fields) -> Task:
        return Task.objects.create(user=user, title=title, **fields)

    return make


@pytest.fixture
def make_category(db):
    from todos.models import Category

    def make(user, name: str = "Work", **fields) -> Category:
        return Category.objects.create(user=user, name=name, **fields)

    return make


@pytest.fixture
def rest_etag(client_for):
    """The ETag the REST API gives a task or category now, read by its owner."""

    from todos.models import Category

    def etag(instance) -> str:
        kind = "categories" if isinstance(instance, Category) else "tasks"
        response = client_for(instance.user).get(f"/api/{kind}/{instance.pk}")
        assert response.status_code == 200
        return response["ETag"]

    return etag
