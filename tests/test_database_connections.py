"""However many clients connect, the server holds a bounded number of PostgreSQL connections.

1,000 client connections are held open against Ironclad started by bin/docker-entrypoint.sh,
each sending requests that reach the database (/health runs a query) as fast as they are
answered, while the test counts the server's connections in pg_stat_activity. The bound is the
documented one: workers x threads (granian, gunicorn), or workers x DATABASE_POOL_MAX_SIZE under
ASGI (uvicorn), far below PostgreSQL's max_connections (100 by default).
"""

import asyncio
import resource
import threading
import time
from collections import Counter

import psycopg
import pytest

from tests.net import free_port, server_env, serving
from tests.test_entrypoint import ENTRYPOINT

CLIENTS = 1000
SECONDS = 6

pytestmark = [pytest.mark.live, pytest.mark.postgres("counts connections in pg_stat_activity")]


async def _client(port: int, deadline: float, answers: Counter, served: set, number: int) -> None:
    """One client: a keep-alive connection (opened again whenever the server closes it) sending
    GET /health until the deadline."""
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    reader = writer = None
    try:
        while time.monotonic() < deadline:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            await reader.readexactly(length)
            answers[status] += 1
            served.add(number)
            if close:
                writer.close()
                writer = None
    except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as error:
        answers[type(error).__name__] += 1
    finally:
        if writer is not None:
            writer.close()


async def _clients(port: int) -> tuple[Counter, set]:
    answers: Counter = Counter()
    served: set = set()
    deadline = time.monotonic() + SECONDS
    clients = asyncio.gather(*(_client(port, deadline, answers, served, n) for n in range(CLIENTS)))
    await asyncio.wait_for(clients, timeout=SECONDS + 60)  # a server that stops answering fails the test
    return answers, served


@pytest.fixture(autouse=True)
def _enough_file_descriptors():
    """1,000 sockets in this process, more than a default soft limit of 1,024 leaves room for."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CLIENTS + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def most_connections_while(database_url: str, work) -> tuple[int, object]:
    """Run `work()` while counting the connections to `database_url`'s database every 0.1 s."""
    name = database_url.rsplit("/", 1)[1]
    most, finished = 0, threading.Event()

    def watch() -> None:
        nonlocal most
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not finished.wait(0.1):
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name],
                ).fetchone()
                most = max(most, count[0] if count else 0)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = work()
    finally:
        finished.set()
        watcher.join()
    return most, result


@pytest.mark.parametrize(
    ("server", "bound"),
    [
        # The default: WEB_CONCURRENCY x WEB_THREADS.
        pytest.param({"WEB_CONCURRENCY": "2"}, 2 * 2, id="default"),
        pytest.param({"SERVER": "gunicorn", "WEB_CONCURRENCY": "2"}, 2, id="gunicorn-sync"),
        pytest.param(
            {
                "SERVER": "gunicorn",
                "GUNICORN_WORKER_CLASS": "gthread",
                "WEB_CONCURRENCY": "2",
                "WEB_THREADS": "8",
            },
            2 * 8,
            id="gunicorn-gthread",
        ),
        # ASGI: WEB_CONCURRENCY x DATABASE_POOL_MAX_SIZE.
        pytest.param(
            {"SERVER": "uvicorn", "WEB_CONCURRENCY": "2", "DATABASE_POOL_MAX_SIZE": "4"}, 2 * 4, id="uvicorn"
        ),
    ],
)
def test_a_thousand_clients_never_open_more_connections_than_documented(
    server, bound, fresh_database, tmp_path
):
    port = free_port()
    env = server_env(port=port, database_url=fresh_database, static_root=tmp_path / "static", **server)

    with serving([str(ENTRYPOINT)], env=env, log=tmp_path / "server.log", cwd=tmp_path):
        most, (answers, served) = most_connections_while(fresh_database, lambda: asyncio.run(_clients(port)))

    assert len(served) == CLIENTS, f"only {len(served)} of {CLIENTS} clients got an answer: {answers}"
    # Under ASGI a request may wait too long for a pooled connection: a 503, never an error.
    assert set(answers) <= ({200, 503} if server.get("SERVER") == "uvicorn" else {200}), answers
    assert answers[200] >= CLIENTS
    assert 0 < most <= bound, f"{most} connections, documented bound {bound}"
