import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest
from django.db import connection

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


@contextmanager
def new_postgres_database() -> Iterator[str]:
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
def fresh_database() -> Iterator[str]:
    """The URL of an empty PostgreSQL database on the test server, dropped afterwards."""
    with new_postgres_database() as url:
        yield url


def the_test_database_url() -> str:
    """The URL of the test run's PostgreSQL database, for a connection of the test's own."""
    return urlsplit(DATABASE_URL)._replace(path=f"/{connection.settings_dict['NAME']}").geturl()


def wait_until_blocked_on_a_lock(statement: str) -> None:
    """Until another connection's `statement` (its start) waits for a row lock."""
    for _ in range(200):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                [f"{statement}%"],
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError(f"no {statement!r} waited for a lock")


def run_concurrently(count: int, action) -> list:
    """Run `action` in `count` threads released together; each thread has its own connection."""
    return run_together(*[action] * count)


def run_together(*actions) -> list:
    """Run each action in a thread of its own, all released together, each with its own database
    connection; their results, in the order they finished."""
    barrier = threading.Barrier(len(actions))
    results: list = []

    def worker(action):
        try:
            barrier.wait()
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
