"""The credential cache as deployed (granian, two workers of two threads, PostgreSQL): a revoked
credential is refused by every worker within CREDENTIAL_CACHE_SECONDS of its revocation."""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
import pytest

from accounts.authentication import sign_session_token
from tests.net import get, serving_alice

pytestmark = [pytest.mark.live, pytest.mark.postgres("revoked as better-auth does: rows deleted by SQL")]

TTL = 2  # seconds: CREDENTIAL_CACHE_SECONDS of the server below
SLACK = 1.5  # seconds past the TTL for the last requests to be answered
ROUNDS = 40  # requests, each on a connection of its own, so that both workers answer some


@dataclass
class Live:
    url: str
    database_url: str
    better_auth_secret: str
    alice_jwt: str

    def sql(self, statement: str, params: list) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("served-credentials")
    with serving_alice(
        folder,
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
        CREDENTIAL_CACHE_SECONDS=str(TTL),
        # Far more requests than a minute allows by default, most of them refused.
        THROTTLE_ANON_RATE="100000/min",
        THROTTLE_USER_RATE="100000/min",
    ) as (server, alice_jwt):
        yield Live(server.url, server.env["DATABASE_URL"], server.env["BETTER_AUTH_SECRET"], alice_jwt)


def sign_in(live: Live, email: str) -> tuple[str, str]:
    """A better-auth session for the user of `email`, inserted as better-auth inserts it: its id, and
    the Cookie header a browser would send with it."""
    session_id, token = uuid.uuid4().hex, uuid.uuid4().hex
    live.sql(
        'INSERT INTO "session" (id, token, "userId", "expiresAt", "createdAt", "updatedAt") '
        "SELECT %s, %s, id, now() + interval '1 day', now(), now() FROM \"user\" WHERE email = %s",
        [session_id, token, email],
    )
    cookie = quote(sign_session_token(token, live.better_auth_secret), safe="")
    return session_id, f"better-auth.session_token={cookie}"


def refused_everywhere_within_the_ttl(live: Live, headers: dict[str, str], revoke, message: str) -> None:
    """Accepted ROUNDS times (remembered by every worker that answered), then revoked: from then
    on, a request is accepted only while an entry made before may still be remembered, and by
    revocation + TTL + SLACK, ROUNDS requests in a row have been refused."""
    me = f"{live.url}/api/me"
    assert [get(me, **headers).status for _ in range(ROUNDS)] == [200] * ROUNDS

    revoke()
    revoked = time.monotonic()

    accepted, refused_in_a_row, last_accepted = 0, 0, None
    while refused_in_a_row < ROUNDS:
        sent = time.monotonic()
        response = get(me, **headers)
        if response.status == 200:
            accepted, refused_in_a_row, last_accepted = accepted + 1, 0, sent - revoked
            time.sleep(0.02)  # still remembered: no need to ask hundreds of times a second
        else:
            assert response.status == 401, response.text
            error = response.json()["error"]
            assert (error["code"], error["message"]) == ("invalid_token", message)
            refused_in_a_row += 1
        elapsed = time.monotonic() - revoked
        assert elapsed < TTL + SLACK, (
            f"{elapsed:.2f} s after the revocation, {refused_in_a_row} requests in a row refused, "
            f"{accepted} accepted (the last sent {last_accepted} s after it)"
        )
    # The server remembers (the warm-up took a fraction of the TTL, so an entry outlived the
    # revocation), and every entry was made before the revocation, so none answers past its TTL.
    assert accepted > 0, "no revoked request accepted: is CREDENTIAL_CACHE_SECONDS read by the server?"
    assert last_accepted is not None and last_accepted < TTL, (accepted, last_accepted)


def test_a_signed_out_session_cookie_is_refused_by_every_worker_within_the_ttl(live):
    session_id, cookie = sign_in(live, "bob@example.com")

    refused_everywhere_within_the_ttl(
        live,
        {"Cookie": cookie},
        lambda: live.sql('DELETE FROM "session" WHERE id = %s', [session_id]),  # better-auth's sign-out
        "The session does not exist or has been signed out.",
    )


def test_a_deleted_users_jwt_is_refused_by_every_worker_within_the_ttl(live):
    refused_everywhere_within_the_ttl(
        live,
        {"Authorization": f"Bearer {live.alice_jwt}"},
        lambda: live.sql('DELETE FROM "user" WHERE email = %s', ["alice@example.com"]),  # cascades
        "The token's user does not exist.",
    )
