"""No text a client sends can start a new log line.

A path, a method, a request id, a user id or an exception's message may carry a line feed, a
carriage return, NEL or U+2028 followed by text shaped like a record. Written as the settings
configure the console handler, every physical line must still either start a record or continue
one (a traceback), and the forged record must never start a line. In JSON, every line must parse.
Nor can a client's text reorder a line as a terminal shows it: bidirectional controls are escaped.
"""

import io
import json
import logging
import logging.config
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test import Client

from accounts.authentication import sign_session_token
from accounts.models import User
from ironclad.errors import exception_handler
from ironclad.logs import TextFormatter
from tests.net import free_port, migrate, send_raw, server_env, serving

ROOT = Path(__file__).resolve().parent.parent

# A whole record as the text format writes one: what an attacker would like to add to the log.
FORGED = "2026-11-30 16:00:00,000 CRITICAL ironclad.requests [forged] GET /admin 200 1.00ms user=admin"
BREAKS = {
    "LF": "\n",
    "CRLF": "\r\n",
    "CR": "\r",
    "VT": "\v",
    "FF": "\f",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
    "ESC": "\x1b[2K\r",  # a terminal's "erase the line", then back to its start
}
# Unicode's bidirectional controls: a terminal or log viewer that honours them shows the rest of the
# line reordered (after U+202E, RIGHT-TO-LEFT OVERRIDE, "user=admin 200" reads "002 nimda=resu").
BIDI_CONTROLS = {
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "ALM": "\u061c",
}
RECORD_START = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ \[[\w.-]+\] "
)


def crafted(prefix: str) -> list[str]:
    """`prefix`, then each line break, then the forged record."""
    return [f"{prefix}{line_break}{FORGED}" for line_break in BREAKS.values()]


def forges_a_line(line: str) -> bool:
    # Django upper-cases the method: the forged record may come back upper-cased.
    return line.casefold().startswith(FORGED.casefold())


def assert_text_lines_are_records_or_continuations(written: str, records: int | None = None) -> None:
    """Every line, split wherever anything splits lines (str.splitlines: LF, CR, NEL, U+2028...),
    starts a record or continues one; as many lines start a record as records were written."""
    lines = written.splitlines()
    assert lines, "nothing was logged"
    for line in lines:
        assert RECORD_START.match(line) or line.startswith(TextFormatter.CONTINUATION), repr(line)
        assert not forges_a_line(line), repr(line)
    if records is not None:
        assert sum(1 for line in lines if RECORD_START.match(line)) == records, written


def assert_json_lines_parse(written: str, records: int | None = None) -> list[dict]:
    """Every line is one JSON object, and no character that some reader splits lines on is left
    raw in it: splitting on every line break gives the same lines as splitting on LF."""
    lines = written.splitlines()
    assert lines == written.removesuffix("\n").split("\n"), repr(written)
    if records is not None:
        assert len(lines) == records, written
    return [json.loads(line) for line in lines]


# --- the console handler as settings.LOGGING configures it ------------------------------------------


@dataclass
class Console:
    """What the console handler writes while a test runs, and how many records it wrote."""

    log_format: str
    stream: io.StringIO = field(default_factory=io.StringIO)
    records: int = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.records += 1
        return True

    @property
    def written(self) -> str:
        return self.stream.getvalue()

    def assert_no_forged_line(self) -> list[dict]:
        """The checks of the module's docstring; the JSON entries when the format is JSON."""
        if self.log_format == "json":
            return assert_json_lines_parse(self.written, self.records)
        assert_text_lines_are_records_or_continuations(self.written, self.records)
        return []


@pytest.fixture(params=["text", "json"])
def console(request) -> Iterator[Console]:
    """The root's console handler, with the formatter LOGGING configures for LOG_FORMAT=text or
    json (built the way dictConfig builds it), writing to a buffer for the test."""
    handler = logging.getHandlerByName("console")
    assert isinstance(handler, logging.StreamHandler)
    assert handler in logging.getLogger().handlers
    formatter_config = dict(settings.LOGGING["formatters"][request.param])
    formatter = logging.config.DictConfigurator({}).configure_formatter(formatter_config)
    console = Console(request.param)
    previous_formatter, previous_stream = handler.formatter, handler.setStream(console.stream)
    handler.setFormatter(formatter)
    handler.addFilter(console)
    try:
        yield console
    finally:
        handler.removeFilter(console)
        handler.setFormatter(previous_formatter)
        handler.setStream(previous_stream)


@pytest.mark.django_db
class TestThroughTheConsoleHandler:
    def test_a_path_cannot_start_a_line(self, console):
        paths = crafted("/api/tasks/1") + crafted("/nope")
        for path in paths:
            Client().get(quote(path))

        entries = console.assert_no_forged_line()
        if console.log_format == "text":
            # The access line and Django's "Not Found", each on one line, the break escaped.
            assert f"GET /nope\\r\\n{FORGED} 404 " in console.written
            assert f"Not Found: /nope\\u2028{FORGED}" in console.written
            assert f"GET /api/tasks/1\\x85{FORGED} 404 " in console.written
        else:
            # JSON keeps the text as it came: a reader gets the path back, line breaks included.
            logged = [entry["path"] for entry in entries if entry["logger"] == "ironclad.requests"]
            assert logged == paths

    def test_a_long_path_is_logged_by_its_start(self, console):
        path = "/nope/" + "p" * 50_000

        Client().get(path)

        lines = console.written.splitlines()
        assert len(lines) == 2  # the access line and Django's "Not Found"
        assert all(len(line) < 1_000 for line in lines), [len(line) for line in lines]
        assert all("/nope/pppp" in line and "p" * 1_000 not in line for line in lines)

    def test_an_x_request_id_with_a_line_break_is_replaced(self, console):
        for supplied in crafted("req-1"):
            response = Client().get("/api/me", HTTP_X_REQUEST_ID=supplied)
            assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])

        entries = console.assert_no_forged_line()
        assert "forged" not in console.written
        for entry in entries:
            assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])

    def test_a_method_cannot_start_a_line(self, console):
        # A real server refuses such a method before Django sees it (see below); the test client
        # does not, so the logging is proven without relying on that.
        for method in crafted("GET"):
            Client().generic(method, "/api/me")

        entries = console.assert_no_forged_line()
        if console.log_format == "text":
            assert f"GET\\n{FORGED.upper()} /api/me " in console.written
        else:
            logged = [entry["method"] for entry in entries if entry["logger"] == "ironclad.requests"]
            assert logged == [method.upper() for method in crafted("GET")]

    # The throttle's cache key holds the user id: Django warns that memcached would refuse it.
    @pytest.mark.filterwarnings("ignore::django.core.cache.CacheKeyWarning")
    def test_a_user_id_cannot_start_a_line(self, console, make_session, session_cookie):
        # Ids come from better-auth or any other service writing the user table, not from Django.
        for user_id in crafted("u"):
            User.objects.create(id=user_id, name="Mallory", email=f"{len(user_id)}{user_id}@example.com")
            client = Client()
            client.cookies["better-auth.session_token"] = session_cookie(
                make_session(User.objects.get(pk=user_id)).token
            )
            assert client.get("/api/me").status_code == 200

        entries = console.assert_no_forged_line()
        if console.log_format == "text":
            assert f"user=u\\u2029{FORGED}" in console.written
        else:
            logged = [entry["user_id"] for entry in entries if entry["logger"] == "ironclad.requests"]
            assert logged == crafted("u")

    def test_an_integrity_error_quoting_the_client_cannot_start_a_line(self, console):
        """A real constraint violation; on PostgreSQL its DETAIL quotes the value the client sent."""
        for email in crafted("k"):
            User.objects.create(name="First", email=email)
            with pytest.raises(IntegrityError) as caught, transaction.atomic():
                User.objects.create(name="Second", email=email)
            if connection.vendor == "postgresql":
                assert FORGED in str(caught.value)
            assert exception_handler(caught.value, {}).status_code == 409

        console.assert_no_forged_line()
        assert console.written.count("integrity error answered as 409") == len(BREAKS)

    def test_an_exception_message_in_a_traceback_cannot_start_a_line(self, console):
        for text in crafted("\u212a"):  # the Kelvin sign, as in the finding
            try:
                raise ValueError(f"no category named {text}")
            except ValueError as error:
                assert exception_handler(error, {}).status_code == 500

        entries = console.assert_no_forged_line()
        if console.log_format == "text":
            lines = console.written.splitlines()
            # The final line of the traceback is the exception's message: indented, then the
            # line feed that follows the Kelvin sign starts another indented line.
            assert f"{TextFormatter.CONTINUATION}ValueError: no category named \u212a" in lines
            assert f"{TextFormatter.CONTINUATION}{FORGED}" in lines
            assert f"{TextFormatter.CONTINUATION}ValueError: no category named \u212a\\u2028{FORGED}" in lines
        else:
            assert [entry["message"] for entry in entries] == ["unhandled error"] * len(BREAKS)
            last_lines = [entry["exc_info"].split("ValueError: ")[-1] for entry in entries]
            assert last_lines == [f"no category named {text}" for text in crafted("\u212a")]

    def test_a_bidirectional_control_is_escaped_never_written(self, console):
        """In a path (the access line and Django's "Not Found") and in a traceback's message."""
        for control in BIDI_CONTROLS.values():
            Client().get(quote(f"/nope{control}nimda=resu"))
            try:
                raise ValueError(f"no category named {control}nimda")
            except ValueError as error:
                assert exception_handler(error, {}).status_code == 500

        entries = console.assert_no_forged_line()
        assert not set(BIDI_CONTROLS.values()) & set(console.written), repr(console.written)
        for control in BIDI_CONTROLS.values():
            escape = f"\\u{ord(control):04x}"  # Python's escape and JSON's are the same here
            message = f"ValueError: no category named {escape}nimda"
            if console.log_format == "text":
                assert f"GET /nope{escape}nimda=resu 404 " in console.written
                assert f"Not Found: /nope{escape}nimda=resu" in console.written
                assert TextFormatter.CONTINUATION + message in console.written.splitlines()
            else:
                assert f'"path": "/nope{escape}nimda=resu"' in console.written
                assert message in console.written
        if console.log_format == "json":
            # The same text to a JSON parser.
            logged = [entry["path"] for entry in entries if entry["logger"] == "ironclad.requests"]
            assert logged == [f"/nope{control}nimda=resu" for control in BIDI_CONTROLS.values()]

    def test_any_logged_text_cannot_start_a_line(self, console):
        """Client text in a message, its arguments, a traceback and a stack, logged in any way."""
        logger = logging.getLogger("ironclad.tests")
        for text in crafted("client says"):
            logger.warning(text)
            logger.warning("%s", text, stack_info=True)
            try:
                raise KeyError(text)
            except KeyError:
                logger.exception("lookup failed for %s", text)

        console.assert_no_forged_line()
        assert console.records == 3 * len(BREAKS)


# --- a real server, over the wire ------------------------------------------------------------------


GRANIAN_LINE = re.compile(r"\[(?:INFO|WARNING)\] ")


def send(url: str, request: bytes) -> bytes:
    """Raw bytes to the server, and its status line: no HTTP client would send some of these."""
    return send_raw(url, request).split(b"\r\n", 1)[0]


def sign_in_crafted_users(database: Path, secret: str) -> list[str]:
    """A user for each crafted id, as another service writing the user table could add, with a
    session each: the session cookies that sign them in."""
    cookies = []
    with closing(sqlite3.connect(database)) as db, db:
        for number, user_id in enumerate(crafted("u")):
            token = f"crafted-session-{number}"
            db.execute(
                'INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") '
                "VALUES (?, 'Mallory', ?, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                [user_id, f"mallory{number}@example.com"],
            )
            db.execute(
                'INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId") '
                "VALUES (?, '2999-01-01 00:00:00', ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00', ?)",
                [token, token, user_id],
            )
            cookies.append(quote(sign_session_token(token, secret), safe=""))
    return cookies


def wire_requests(session_cookies: list[str]) -> list[bytes]:
    host = b"Host: 127.0.0.1\r\nConnection: close\r\n"
    requests = [
        f"GET {quote(path)} HTTP/1.1\r\n".encode() + host + b"\r\n"
        for path in crafted("/api/tasks/1") + crafted("/nope")
    ]
    requests += [
        b"GET /api/me HTTP/1.1\r\n" + host + f"Cookie: better-auth.session_token={cookie}\r\n\r\n".encode()
        for cookie in session_cookies
    ]
    for line_break in BREAKS.values():
        raw = line_break.encode()
        # Header values and methods with control bytes: refused by the server, or logged escaped.
        requests.append(b"GET /health HTTP/1.1\r\n" + host + b"X-Request-ID: a" + raw + b"b\r\n\r\n")
        requests.append(b"G" + raw + b"ET /health HTTP/1.1\r\n" + host + b"\r\n")
    # A header folded onto a second line (obsolete HTTP/1.1 syntax).
    folded = b"X-Request-ID: a\r\n " + FORGED.encode() + b"\r\n"
    requests.append(b"GET /health HTTP/1.1\r\n" + host + folded + b"\r\n")
    return requests


@pytest.mark.live
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_real_server_writes_no_forged_line(log_format, tmp_path):
    """Ironclad served as deployed (granian, DEBUG off), sent the crafted requests over the wire:
    what it logs while it answers them starts no forged line."""
    static_root = tmp_path / "static"
    static_root.mkdir()  # else WhiteNoise warns, outside the log, of a missing folder
    env = server_env(
        port=free_port(),
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        static_root=static_root,
        HTTPS_ONLY="false",
        LOG_FORMAT=log_format,
        LOG_LEVEL="INFO",
        WEB_CONCURRENCY="1",
        # The user throttle's cache key holds the user id, and Django warns, outside the log, that
        # memcached would refuse the crafted ones.
        THROTTLE_USER_RATE="off",
    )
    migrate(env, cwd=ROOT)
    cookies = sign_in_crafted_users(tmp_path / "db.sqlite3", env["BETTER_AUTH_SECRET"])
    log = tmp_path / "server.log"

    with serving([sys.executable, "-m", "config.serve"], env=env, log=log, cwd=ROOT) as server:
        statuses = [send(server.url, request) for request in wire_requests(cookies)]
    # Granian's own lines ("[INFO] Spawning worker-1"; it logs no request) are not the app's log.
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    written = "".join(line for line in lines if not GRANIAN_LINE.match(line))

    # Every crafted path reached Django (404) and every crafted user was signed in (200); the
    # methods and headers got the server's 400, or Django's answer and a new request id.
    count = len(BREAKS)
    assert statuses[: 3 * count] == [b"HTTP/1.1 404 Not Found"] * 2 * count + [b"HTTP/1.1 200 OK"] * count
    if log_format == "text":
        assert_text_lines_are_records_or_continuations(written)
        assert f"Not Found: /nope\\n{FORGED}" in written
        assert f"GET /api/tasks/1\\u2028{FORGED} 404 " in written
        assert re.search(rf"GET /api/me 200 \S+ user=u\\r\\n{re.escape(FORGED)}$", written, re.MULTILINE)
    else:
        entries = [
            entry for entry in assert_json_lines_parse(written) if entry["logger"] == "ironclad.requests"
        ]
        assert {entry["path"] for entry in entries} >= {*crafted("/api/tasks/1"), *crafted("/nope")}
        assert {entry.get("user_id") for entry in entries} >= set(crafted("u"))


@pytest.mark.django_db
class TestSuspiciousRequests:
    """Requests Django itself refuses as suspicious: a JSON 400 under /api/, and one log line
    each without a traceback (a client could otherwise fill the log with them)."""

    @pytest.mark.parametrize(
        "request_args",
        [
            {"path": "/api/me", "HTTP_HOST": "evil.example"},
            {"path": "/api/tasks?" + "&".join(["a"] * 1001)},
            {"path": "/api/me", "HTTP_HOST": "127.0.0.1\n2026-11-30 16:00:00,000 CRITICAL forged"},
        ],
        ids=["host", "too many fields", "host with a line feed"],
    )
    def test_are_a_json_400_logged_without_a_traceback(self, console, request_args):
        args = dict(request_args)
        response = Client().get(args.pop("path"), **args)

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        console.assert_no_forged_line()
        assert "Traceback" not in console.written
        assert "django.security" in console.written
