"""Search reads an index, however many tasks a user has: PostgreSQL trigram indexes (pg_trgm, a
trusted extension, which the database's owner may create, on Neon too) of "the user's id, a space,
the title" and of the same with the description, and `task_search(pattern)`, which reads them. The pattern begins with the user's id (todos.selectors), so the indexes give the rows that
hold the user's trigrams and the term's: a term that matches nothing costs no more for 20,000
tasks than for 20, and a term common in other users' tasks costs nothing for a user who never
wrote it. The function is planned with sequential scans off (its SET clause): PostgreSQL counts
no cost for reading descriptions kept out of line (TOAST), and would read a small table whole.
SQLite keeps its LIKE, which reads the user's tasks.

Built CONCURRENTLY, outside a transaction: a large table keeps taking writes meanwhile. A build
that failed leaves an invalid index behind, which a new run drops and builds again.
"""

from django.db import migrations

INDEXES = {"task_title_trgm": "title", "task_description_trgm": "description"}
SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION "task_search"(pattern text) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE ROWS 100 SET enable_seqscan = off AS $$
    SELECT "id" FROM "task"
    WHERE ("userId" || ' ' || "title") ILIKE pattern OR ("userId" || ' ' || "description") ILIKE pattern
$$
"""


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(%s) AND NOT indisvalid", [f'"{name}"']
            )
            if cursor.fetchone():
                schema_editor.execute(f'DROP INDEX CONCURRENTLY "{name}"')
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "task" '
            f'USING gin (("userId" || \' \' || "{column}") gin_trgm_ops)'
        )
    schema_editor.execute(SEARCH_FUNCTION)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('DROP FUNCTION IF EXISTS "task_search"(text)')
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("todos", "0005_link_series"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
