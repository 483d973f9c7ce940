"""Django's PostgreSQL backend, with health checks that skip a connection in use a moment ago.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request: a third
round trip for a task list page that otherwise needs two, and 6% of its throughput (bench/). A
connection that served a query less than DATABASE_HEALTH_CHECK_IDLE_SECONDS ago is checked no
further; one idle for longer is checked as before. So after a database restart during a quiet
moment no request fails; a restart under constant load costs a worker one failed request (503),
after which Django drops the broken connection and the next request opens a new one.
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")

    def _cursor(self, name=None):
        if time.monotonic() - self.last_used < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS:
            self.health_check_done = True  # in use a moment ago: as alive as a check could show
        cursor = super()._cursor(name)
        self.last_used = time.monotonic()
        return cursor
