"""/health: is the process up, is the database reachable, is its schema current."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

# Once every migration is applied it stays so for the life of the process
# (new migrations arrive with new code, hence a new process): check until then.
_migrations_applied = False


def pending_migration_count() -> int:
    global _migrations_applied
    if _migrations_applied:
        return 0
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrations_applied = pending == 0
    return pending


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    body: dict[str, object] = {"status": "ok", "database": "connected", "version": settings.VERSION}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = pending_migration_count()
    except DatabaseError:
        body.update(status="error", database="disconnected")
        return JsonResponse(body, status=503)
    body["migrations"] = "pending" if pending else "applied"
    if pending:
        body.update(status="error", pending_migrations=pending)
        return JsonResponse(body, status=503)
    return JsonResponse(body)
