"""Search reads an index, however many tasks a user has: PostgreSQL trigram indexes of each user's
titles and descriptions (pg_trgm, with btree_gin for the user's id in the same index; both are
trusted extensions, which the database's owner may create, on Neon too). They answer `ILIKE
'%term%'` for a term with three letters or digits in a row (todos.filters) by looking up the
term's trigrams among the user's tasks alone, so a term that matches nothing costs no more for
20,000 tasks than for 20. SQLite keeps its LIKE, which reads the user's tasks.

Built CONCURRENTLY, outside a transaction: a large table keeps taking writes meanwhile. A build
that failed leaves an invalid index behind, which a new run drops and builds again.
"""

from django.db import migrations

EXTENSIONS = ("pg_trgm", "btree_gin")
INDEXES = {"task_title_trgm": "title", "task_description_trgm": "description"}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for extension in EXTENSIONS:
        schema_editor.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    for name, column in INDEXES.items():
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(%s) AND NOT indisvalid", [f'"{name}"']
            )
            if cursor.fetchone():
                schema_editor.execute(f'DROP INDEX CONCURRENTLY "{name}"')
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "task" '
            f'USING gin ("userId", "{column}" gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("todos", "0004_previous_occurrence"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
