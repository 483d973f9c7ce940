"""The limit: the task list answered by a minimal Django app, served exactly as Ironclad is.

No middleware and no REST framework (bench/limit_settings.py): PyJWT verifies the bearer token,
then the same two statements as Ironclad's task list (the token's user, and the page with its
total), and the JSON built by hand. bench/run.py reports Ironclad's list as a fraction of this
("of limit"): what Ironclad's own machinery costs per request. See docs/performance.md.
"""

import json
import math
from datetime import UTC, datetime

import jwt
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from accounts.authentication import USER_BY_ID
from ironclad.health import health
from todos.selectors import TaskFilters, task_page

PAGE_SIZE = 20


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _answer(status: int, body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def task_list(request: HttpRequest) -> HttpResponse:
    token = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
    try:
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=["HS256"],
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.InvalidTokenError:
        return _answer(401, {"error": {"code": "invalid_token", "message": "", "details": {}}})
    with connection.cursor() as cursor:
        cursor.execute(USER_BY_ID, [claims["sub"]])
        user = cursor.fetchone()
    if user is None:
        return _answer(401, {"error": {"code": "invalid_token", "message": "", "details": {}}})

    class Owner:  # task_page reads the user's primary key only
        pk = user[0]

    tasks, total = task_page(Owner, TaskFilters(), offset=0, limit=PAGE_SIZE)  # type: ignore[arg-type]
    data = [
        {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "completed": task.completed,
            "priority": task.priority,
            "due_date": _timestamp(task.due_date),
            "category_id": task.category_id,
            "tags": task.tags,
            "recurrence": task.recurrence,
            "previous_occurrence_id": task.previous_occurrence_id,
            "completed_at": _timestamp(task.completed_at),
            "created_at": _timestamp(task.created_at),
            "updated_at": _timestamp(task.updated_at),
            "user_id": task.user_id,
        }
        for task in tasks
    ]
    meta = {"page": 1, "page_size": PAGE_SIZE, "total": total, "pages": math.ceil(total / PAGE_SIZE)}
    return _answer(200, {"data": data, "meta": meta})


urlpatterns = [path("api/tasks", task_list), path("health", health)]
