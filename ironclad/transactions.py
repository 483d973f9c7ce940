"""Transactions that run again when PostgreSQL aborts them for a reason that passes: a deadlock or
a serialization failure. Every write takes its locks in one order (todos.services.lock_for_write),
so neither should happen; this is what makes one that still does cost a retry, not a 503."""

import functools
import logging
import random
import time
from collections.abc import Callable

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

# deadlock_detected and serialization_failure: the transaction was rolled back, and running it
# again may well succeed.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
# query_canceled: the statement ran past DATABASE_STATEMENT_TIMEOUT (ironclad.database).
CANCELED_SQLSTATE = "57014"
ATTEMPTS = 3


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error Django raised (psycopg's error is its cause)."""
    return getattr(error.__cause__, "sqlstate", None)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and sqlstate(error) in TRANSIENT_SQLSTATES


def is_timeout(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and sqlstate(error) == CANCELED_SQLSTATE


def run_in_transaction[T](function: Callable[[], T]) -> T:
    """`function()` in a transaction. As the outermost transaction, it runs again, up to ATTEMPTS
    times in all, when a deadlock or serialization failure rolls it back. Nested in another (a
    savepoint), a deadlock rolls back the outermost, whose own retries run everything again."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return function()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return function()
        except OperationalError as error:
            if attempt == ATTEMPTS or not is_transient(error):
                raise
            logger.info("transaction rolled back (%s), running it again", sqlstate(error))
            time.sleep(random.uniform(0, 0.02 * attempt))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")


def atomic_with_retries[**P, T](function: Callable[P, T]) -> Callable[P, T]:
    """A function that runs in `run_in_transaction`."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_in_transaction(lambda: function(*args, **kwargs))

    return run
