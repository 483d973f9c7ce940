"""Log records tagged with the current request's id, written as text or as one JSON object a line.

Whatever a record carries (a path, a header, an exception's message quoting a client's text), it
cannot start a line that reads as another record: the formatters below escape control characters,
and the text format marks every line of a traceback as the record's continuation.

Named `logs`, not `logging`, so that `import logging` inside the package is the standard library.
"""

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

from ironclad.untrusted import clip

# Set by ironclad.middleware.RequestLogMiddleware for the life of each request.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# What no formatter here writes is not gathered for each record, as the logging HOWTO's
# "Optimization" section advises: where the call was made (a walk up the stack), the thread, the
# process and the asyncio task. A request's log line was a tenth of a task list's cost.
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12+; the stubs lag

# What can end a line or move a terminal's cursor: the C0 controls (LF, CR, VT, FF, ESC...), DEL,
# the C1 controls (NEL, U+0085, among them) and Unicode's line and paragraph separators, on which
# str.splitlines(), JavaScript and some log shippers split. And what can reorder the rest of a
# line as a terminal or a log viewer shows it: the bidirectional embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) and marks (U+200E, U+200F, U+061C).
CONTROL_CHARACTERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029"  # line breaks and cursor moves
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidirectional controls
)


# The longest message a line carries: a record quoting a client's text at length (Django's "Not
# Found: <path>") is cut, so that no request can make a log line as long as it likes.
MESSAGE_LENGTH = 500


def one_line(text: str) -> str:
    """`text` with its control characters written as Python escapes (a line feed as the two
    characters `\\n`, NEL as `\\x85`, U+2028 as `\\u2028`, U+202E as `\\u202e`): always a single
    line, shown in the order it was written."""
    return CONTROL_CHARACTERS.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


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


class SecurityRecordsWithoutTraceback(logging.Filter):
    """Django logs each suspicious request (a Host not in ALLOWED_HOSTS, too many fields) on a
    `django.security.*` logger with its traceback: a client could fill the log with them, and the
    message already says what was wrong. They keep their one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security."):
            record.exc_info = None
            record.exc_text = None
        return True


class TextFormatter(logging.Formatter):
    """A record as one line, then its traceback or stack, if any, one line each after
    CONTINUATION. Control characters are escaped in the first line (message, logger name, request
    id) and within each traceback line, so no text a record carries can start a line of its own:
    every line of the output starts with a timestamp only when it starts a record."""

    CONTINUATION = "  | "

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = clip(record.message, MESSAGE_LENGTH)
        return one_line(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        # Marked in the written text, so that a traceback another handler's formatter cached on the
        # record (record.exc_text) is marked too.
        text = super().format(record)
        if "\n" not in text:  # no traceback: most records
            return text
        first, *rest = text.split("\n")
        return "\n".join([first, *(self.CONTINUATION + one_line(line) for line in rest)])


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request fields the record
    carries, and the traceback if any. Only the named fields are written: a record's other
    attributes (e.g. the `request` Django attaches, whose repr has the query string) never are.

    json.dumps escapes the C0 controls (a line feed as `\\n`); with ensure_ascii=False, which
    keeps other text readable, it leaves DEL, the C1 controls, U+2028/U+2029 and the bidirectional
    controls as they are, so those are written as `\\u0085`-style escapes here: the same text to a
    JSON parser, never a line break to a shipper that splits on them, nor a line shown reordered."""

    FIELDS = ("request_id", "trace_id", "span_id", "method", "path", "status", "duration_ms", "user_id")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": clip(record.getMessage(), MESSAGE_LENGTH),
        }
        for field in self.FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        return CONTROL_CHARACTERS.sub(lambda found: f"\\u{ord(found.group()):04x}", line)


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
