"""Ironclad and a real better-auth server on one PostgreSQL database, in both migration orders."""

import time

import jwt
import psycopg

from tests.interop.conftest import better_auth_migrate, manage
from tests.net import Server, get, new_postgres_database, send, send_json

COOKIE = "better-auth.session_token"


def sign_up_and_sign_in(better_auth: Server, email: str) -> dict:
    """Sign a person up and in through better-auth's HTTP API; return what a client holds."""
    password = "correct horse battery staple"
    signed_up = send_json(
        "POST",
        f"{better_auth.url}/api/auth/sign-up/email",
        {"name": "Alice Interop", "email": email, "password": password},
    )
    assert signed_up.status == 200, signed_up.body

    signed_in = send_json(
        "POST", f"{better_auth.url}/api/auth/sign-in/email", {"email": email, "password": password}
    )
    assert signed_in.status == 200, signed_in.body
    cookie = signed_in.cookie(COOKIE)
    assert cookie is not None, signed_in.headers

    token = get(f"{better_auth.url}/api/auth/token", Cookie=cookie)
    assert token.status == 200, token.body
    return {
        "user_id": signed_in.json()["user"]["id"],
        "cookie": cookie,
        "bearer": signed_in.headers["set-auth-token"],
        "jwt": token.json()["token"],
    }


def me(ironclad: Server, **headers: str):
    return get(f"{ironclad.url}/api/me", **headers)


def assert_every_credential_works_until_sign_out(better_auth: Server, ironclad: Server, email: str):
    client = sign_up_and_sign_in(better_auth, email)
    assert jwt.get_unverified_header(client["jwt"])["alg"] == "EdDSA"

    for credential in (
        {"Cookie": client["cookie"]},
        {"Authorization": f"Bearer {client['bearer']}"},
        {"Authorization": f"Bearer {client['jwt']}"},
    ):
        response = me(ironclad, **credential)
        assert response.status == 200, (credential, response.body)
        assert response.json()["data"]["id"] == client["user_id"]
        assert response.json()["data"]["email"] == email

    signed_out = send_json(
        "POST",
        f"{better_auth.url}/api/auth/sign-out",
        {},
        {"Cookie": client["cookie"], "Origin": better_auth.url},
    )
    assert signed_out.status == 200, signed_out.body

    # Each worker remembers a credential it verified for CREDENTIAL_CACHE_SECONDS (1 here).
    time.sleep(1.2)
    after = me(ironclad, Cookie=client["cookie"])
    assert after.status == 401
    assert after.json()["error"]["code"] == "invalid_token"
    assert me(ironclad, Authorization=f"Bearer {client['bearer']}").status == 401
    # A JWT is self-contained: it stays valid after sign-out until it expires (15 minutes).
    assert me(ironclad, Authorization=f"Bearer {client['jwt']}").status == 200


def test_better_auth_runs_on_a_database_django_migrated(
    harness, fresh_database, start_better_auth, start_ironclad
):
    manage(fresh_database, "migrate", "--noinput")

    check = better_auth_migrate(harness, fresh_database, "--check")
    assert check.returncode == 0, f"better-auth wants changes:\n{check.stdout}\n{check.stderr}"
    assert "UP_TO_DATE" in check.stdout

    better_auth = start_better_auth(fresh_database)
    # JWT keys from the `jwks` table; their issuer and audience, better-auth's origin, from BETTER_AUTH_URL.
    ironclad = start_ironclad(fresh_database, BETTER_AUTH_URL=better_auth.url, CREDENTIAL_CACHE_SECONDS="1")
    assert_every_credential_works_until_sign_out(better_auth, ironclad, "alice@django-first.test")


def test_django_adopts_a_database_better_auth_migrated(
    harness, fresh_database, start_better_auth, start_ironclad
):
    migrated = better_auth_migrate(harness, fresh_database)
    assert migrated.returncode == 0, migrated.stderr

    output = manage(fresh_database, "migrate", "--fake-initial", "--noinput")
    assert "accounts.0001_initial... FAKED" in output
    assert "accounts.0003_oauth_provider... FAKED" in output
    assert "No migrations to apply" in manage(fresh_database, "migrate", "--noinput")

    better_auth = start_better_auth(fresh_database)
    # JWT keys from better-auth's JWKS endpoint this time, issuer and audience set one by one.
    ironclad = start_ironclad(
        fresh_database,
        BETTER_AUTH_JWKS_URL=f"{better_auth.url}/api/auth/jwks",
        JWT_ISSUER=better_auth.url,
        JWT_AUDIENCE=better_auth.url,
        CREDENTIAL_CACHE_SECONDS="1",
    )
    assert_every_credential_works_until_sign_out(better_auth, ironclad, "alice@better-auth-first.test")


def test_cookie_writes_need_the_front_ends_origin(harness, fresh_database, start_better_auth, start_ironclad):
    manage(fresh_database, "migrate", "--noinput")
    better_auth = start_better_auth(fresh_database)
    ironclad = start_ironclad(fresh_database, FRONTEND_ORIGIN=better_auth.url)
    client = sign_up_and_sign_in(better_auth, "carol@origin.test")

    foreign = send(
        "DELETE", f"{ironclad.url}/api/me", None, {"Cookie": client["cookie"], "Origin": "https://evil.test"}
    )
    trusted = send(
        "DELETE", f"{ironclad.url}/api/me", None, {"Cookie": client["cookie"], "Origin": better_auth.url}
    )

    assert foreign.status == 403
    assert foreign.json()["error"]["code"] == "untrusted_origin"
    assert trusted.status == 405  # past authentication; /api/me is read-only


OAUTH_PROVIDER_TABLES = [
    "oauthClient",
    "oauthResource",
    "oauthClientResource",
    "oauthRefreshToken",
    "oauthAccessToken",
    "oauthConsent",
    "oauthClientAssertion",
]


def oauth_provider_schema(database_url: str) -> dict[str, list]:
    """The oauth-provider plugin's tables as PostgreSQL describes them: columns in order, indexes,
    foreign keys. Left out, as for the core tables: the names of foreign key constraints, and the
    text_pattern_ops index Django adds beside a text primary key (`<table>_id_<hash>_like`)."""
    with psycopg.connect(database_url) as conn:
        columns = conn.execute(
            "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = ANY(%s) ORDER BY 1, 2",
            [OAUTH_PROVIDER_TABLES],
        ).fetchall()
        indexes = conn.execute(
            "SELECT t.relname, i.relname, x.indisunique, x.indisprimary, "
            "  ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o) "
            "        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o) "
            "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE t.relname = ANY(%s) AND i.relname NOT LIKE '%%\\_like' ORDER BY 1, 2",
            [OAUTH_PROVIDER_TABLES],
        ).fetchall()
        foreign_keys = conn.execute(
            "SELECT c.relname, a.attname, r.relname, ra.attname, k.confdeltype "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_class r ON r.oid = k.confrelid "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1] "
            "WHERE k.contype = 'f' AND c.relname = ANY(%s) ORDER BY 1, 2",
            [OAUTH_PROVIDER_TABLES],
        ).fetchall()
    return {"columns": columns, "indexes": indexes, "foreign keys": foreign_keys}


def test_the_oauth_provider_tables_are_the_ones_better_auth_makes(harness, fresh_database):
    manage(fresh_database, "migrate", "--noinput")
    with new_postgres_database() as better_auths:
        migrated = better_auth_migrate(harness, better_auths)
        assert migrated.returncode == 0, migrated.stderr
        expected = oauth_provider_schema(better_auths)

    made_by_django = oauth_provider_schema(fresh_database)

    assert {table for table, *_ in expected["columns"]} == set(OAUTH_PROVIDER_TABLES)
    for part, rows in expected.items():
        assert made_by_django[part] == rows, part
