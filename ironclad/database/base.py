"""Django's PostgreSQL backend, with a deadline for the statements of requests, and health checks
that skip a connection in use a moment ago.

The deadline (DATABASE_STATEMENT_TIMEOUT): DatabaseDeadlineMiddleware marks the connections
that serve requests, and their first statement sets statement_timeout once per connection, so no
request pays a round trip. Management commands serve no request and have no deadline.

The health checks: Django's `SELECT 1` before each request's first query is a third round trip
(docs/performance.md#where-the-time-went), so only connections idle for
DATABASE_HEALTH_CHECK_IDLE_SECONDS or more are checked.
"""

import time
import weakref

from django.conf import settings
from django.db.backends.postgresql import base

from ironclad.metrics import DATABASE_CONNECTIONS


class HeldConnection:
    """Counts one connection in DATABASE_CONNECTIONS for as long as a DatabaseWrapper holds it: until
    it is closed (or given back to the pool), or until the wrapper goes, with the thread that held
    it (granian ends idle threads, and PostgreSQL ends their connections)."""

    def __init__(self) -> None:
        DATABASE_CONNECTIONS.inc()
        weakref.finalize(self, DATABASE_CONNECTIONS.dec).atexit = False  # type: ignore[misc]  # stubs lag


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")
    _counted: "HeldConnection | None" = None
    # Seconds, set by DatabaseDeadlineMiddleware on the connections of threads that serve requests.
    statement_timeout: float | None = None

    def get_new_connection(self, conn_params):
        opened = super().get_new_connection(conn_params)
        self._counted = HeldConnection()
        return opened

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # with the pool: given back to it
        finally:
            self._counted = None

    def _cursor(self, name=None):
        if time.monotonic() - self.last_used < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS:
            self.health_check_done = True  # in use a moment ago: as alive as a check could show
        cursor = super()._cursor(name)
        self.last_used = time.monotonic()
        self._set_statement_timeout()
        return cursor

    def _set_statement_timeout(self) -> None:
        wanted = self.statement_timeout
        # Kept on psycopg's connection: a new one (a reconnection, another from the pool) gets it too.
        if wanted is None or getattr(self.connection, "ironclad_statement_timeout", None) == wanted:
            return
        if self.in_atomic_block:  # a SET there would go with a rollback: the next statement sets it
            return
        with self.wrap_database_errors, self.connection.cursor() as cursor:  # a failure is Django's error
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{round(wanted * 1000)}ms"])
        self.connection.ironclad_statement_timeout = wanted
