"""Log records tagged with the current request's id, written as text or as one JSON object a line.

Named `logs`, not `logging`, so that `import logging` inside the package is the standard library.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# Set by ironclad.middleware.RequestLogMiddleware for the life of each request.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Tags every record logged while a request is served with that request's id, and Django's
    own request records (e.g. "Not Found: /api/x", logged once the middleware is done) with
    the id of the request they carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = getattr(getattr(record, "request", None), "request_id", None)
            request_id = request_id or current_request_id.get()
            if request_id is not None:
                record.request_id = request_id
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request fields the record
    carries, and the traceback if any. Only the named fields are written: a record's other
    attributes (e.g. the `request` Django attaches, whose repr has the query string) never are."""

    FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def warn_if_static_files_are_not_collected() -> None:
    """Said once by each worker process: without `collectstatic` the settings fall back to serving
    the admin's and the API docs' files from the apps, which works but is slower."""
    from django.conf import settings

    if not settings.STATIC_COLLECTED:
        logging.getLogger("ironclad").warning(
            "Static files are not collected (no %s): the admin's and the API docs' files are served "
            "from the apps, unhashed and uncompressed. Run `python manage.py collectstatic --noinput`.",
            settings.STATIC_ROOT / "staticfiles.json",
        )
