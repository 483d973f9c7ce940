"""Django's PostgreSQL backend, with a deadline for the statements of requests, and health checks
that skip a connection in use a moment ago.

The deadline (DATABASE_STATEMENT_TIMEOUT): ironclad.middleware.DatabaseDeadlineMiddleware marks the
connection of each thread that serves a request, and the first statement on it then sets
PostgreSQL's statement_timeout for the session, once per connection: no request pays a round trip
for it. A statement past it is cancelled (503 database_timeout) and the connection stays usable.
Management commands (migrate building an index, upkeep) never serve a request: they have none.

The health checks: with CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of
every request: a third round trip for a task list page that otherwise needs two, and 6% of its
throughput (bench/). A connection that served a query less than DATABASE_HEALTH_CHECK_IDLE_SECONDS
ago is checked no further; one idle for longer is checked as before. So after a database restart
during a quiet moment no request fails; a restart under constant load costs a worker one failed
request (503), after which Django drops the broken connection and the next request opens a new one.
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")
    # Seconds, set by DatabaseDeadlineMiddleware on the connections of threads that serve requests.
    statement_timeout: float | None = None

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
