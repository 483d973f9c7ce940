from collections.abc import Iterator

import pytest

from tests.net import new_postgres_database


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of an empty PostgreSQL database on the test server, dropped afterwards."""
    with new_postgres_database() as url:
        yield url
