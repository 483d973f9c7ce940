"""The migrated better-auth tables match better-auth's own schema, column for column (PostgreSQL)."""

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.postgres("information_schema checks"),
]

TEXT, BOOL, TSTZ = "text", "boolean", "timestamp with time zone"

# (data type, nullable, has a default) as better-auth 1.7's migration creates them.
EXPECTED_COLUMNS = {
    "user": {
        "id": (TEXT, False, False),
        "name": (TEXT, False, False),
        "email": (TEXT, False, False),
        "emailVerified": (BOOL, False, False),
        "image": (TEXT, True, False),
        "createdAt": (TSTZ, False, True),
        "updatedAt": (TSTZ, False, True),
    },
    "session": {
        "id": (TEXT, False, False),
        "expiresAt": (TSTZ, False, False),
        "token": (TEXT, False, False),
        "createdAt": (TSTZ, False, True),
        "updatedAt": (TSTZ, False, False),
        "ipAddress": (TEXT, True, False),
        "userAgent": (TEXT, True, False),
        "userId": (TEXT, False, False),
    },
    "account": {
        "id": (TEXT, False, False),
        "accountId": (TEXT, False, False),
        "providerId": (TEXT, False, False),
        "userId": (TEXT, False, False),
        "accessToken": (TEXT, True, False),
        "refreshToken": (TEXT, True, False),
        "idToken": (TEXT, True, False),
        "accessTokenExpiresAt": (TSTZ, True, False),
        "refreshTokenExpiresAt": (TSTZ, True, False),
        "scope": (TEXT, True, False),
        "password": (TEXT, True, False),
        "createdAt": (TSTZ, False, True),
        "updatedAt": (TSTZ, False, False),
    },
    "verification": {
        "id": (TEXT, False, False),
        "identifier": (TEXT, False, False),
        "value": (TEXT, False, False),
        "expiresAt": (TSTZ, False, False),
        "createdAt": (TSTZ, False, True),
        "updatedAt": (TSTZ, False, True),
    },
    "jwks": {
        "id": (TEXT, False, False),
        "publicKey": (TEXT, False, False),
        "privateKey": (TEXT, False, False),
        "createdAt": (TSTZ, False, False),
        "expiresAt": (TSTZ, True, False),
        "alg": (TEXT, True, False),
        "crv": (TEXT, True, False),
    },
}


def query(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


@pytest.mark.django_db
@pytest.mark.parametrize("table", EXPECTED_COLUMNS)
def test_columns_match_better_auth(table):
    rows = query(
        """
        SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL
        FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = %s
        """,
        [table],
    )
    actual = {name: (data_type, nullable, has_default) for name, data_type, nullable, has_default in rows}

    assert actual == EXPECTED_COLUMNS[table]


@pytest.mark.django_db
def test_primary_keys_are_id():
    rows = query(
        """
        SELECT tc.table_name, kcu.column_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()
          AND tc.table_name = ANY(%s)
        """,
        [list(EXPECTED_COLUMNS)],
    )

    assert sorted(rows) == sorted((table, "id") for table in EXPECTED_COLUMNS)


@pytest.mark.django_db
def test_unique_columns():
    rows = query(
        """
        SELECT tc.table_name, kcu.column_name, tc.constraint_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
        WHERE tc.constraint_type = 'UNIQUE' AND tc.table_schema = current_schema()
          AND tc.table_name = ANY(%s)
        """,
        [list(EXPECTED_COLUMNS)],
    )

    assert sorted(rows) == [("session", "token", "session_token_key"), ("user", "email", "user_email_key")]


@pytest.mark.django_db
def test_user_foreign_keys_cascade_in_the_database():
    rows = query(
        """
        SELECT kcu.table_name, kcu.column_name, ccu.table_name, ccu.column_name, rc.delete_rule
        FROM information_schema.referential_constraints rc
        JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
        JOIN information_schema.constraint_column_usage ccu USING (constraint_schema, constraint_name)
        WHERE kcu.table_schema = current_schema() AND kcu.table_name = ANY(%s)
        """,
        [list(EXPECTED_COLUMNS)],
    )

    assert sorted(rows) == [
        ("account", "userId", "user", "id", "CASCADE"),
        ("session", "userId", "user", "id", "CASCADE"),
    ]


@pytest.mark.django_db
def test_better_auth_indexes_exist_by_name():
    rows = query(
        """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = current_schema() AND indexname = ANY(%s)
        """,
        [["session_userId_idx", "account_userId_idx", "verification_identifier_idx"]],
    )
    definitions = dict(rows)

    assert set(definitions) == {"session_userId_idx", "account_userId_idx", "verification_identifier_idx"}
    assert definitions["session_userId_idx"].endswith('("userId")')
    assert definitions["verification_identifier_idx"].endswith("(identifier)")
