"""The mistakes that stop Ironclad from starting, each said in one line naming what to change,
instead of a traceback that buries it: a setting (the settings raise ImproperlyConfigured with a
message naming the variable) and a database that cannot be opened (down, missing, refusing the
user). manage.py runs every command under `one_line_errors`; config/serve.py reads the settings
under it before it starts the server.

Imported before the settings are read: nothing here reads them at import time.
"""

import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError


@contextmanager
def one_line_errors(*, show_traceback: bool = False) -> Iterator[None]:
    """Exit with status 1 and one line on stderr for a configuration mistake or a database that
    cannot be opened. With `show_traceback` (manage.py's --traceback) the error goes through."""
    try:
        yield
    except ImproperlyConfigured as error:
        if show_traceback:
            raise
        sys.exit(f"Configuration error: {error}")
    except OperationalError as error:
        line = cannot_open_the_database(error)
        if line is None or show_traceback:
            raise
        sys.exit(line)


def cannot_open_the_database(error: OperationalError) -> str | None:
    """One line for `error` when it was raised opening a connection; None when an open connection
    raised it (a statement's error, whose traceback says where it was)."""
    opening = any(
        frame.f_code.co_name == "get_new_connection" for frame, _ in traceback.walk_tb(error.__traceback__)
    )
    if not opening:
        return None
    from django.conf import settings
    from django.db import connection

    variable = settings.DATABASE_URL_NAME
    database = connection.settings_dict
    # psycopg: 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection
    # refused' (then a hint on another line); the server's own messages start with "FATAL:  ".
    first_line = next(iter(str(error).splitlines()), "") or type(error).__name__
    reason = re.sub(r"^.*failed: (FATAL:\s+)?", "", first_line)
    reason = reason[:1].lower() + reason[1:]
    if connection.vendor == "sqlite":
        return (
            f"Cannot open the SQLite database {database['NAME']}: {reason}. Does its folder exist, "
            f"and is {variable} right?"
        )
    host = database["HOST"] or "localhost"
    server = f"{f'[{host}]' if ':' in host else host}:{database['PORT'] or 5432}"
    if missing := re.fullmatch(r'database "(.+)" does not exist', reason):
        name = missing.group(1)
        return (
            f'The database "{name}" does not exist on {server}: create it (createdb {name}) or fix '
            f"{variable}."
        )
    return (
        f"Cannot connect to the database in {variable} ({server}): {reason}. Is PostgreSQL running, "
        f"and is {variable} right?"
    )
