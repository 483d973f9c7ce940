"""One log line per request, request ids, and no secret in any log line."""

import json
import logging
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient
from django.utils.module_loading import import_string

from accounts.tokens import mint_jwt
from ironclad.logs import JSONFormatter, RequestIdFilter

ROOT = Path(__file__).resolve().parent.parent
REQUESTS_LOGGER = "ironclad.requests"


@pytest.fixture
def access_log(caplog):
    """The "ironclad.requests" records, and every record tagged as the console handler tags it."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())

    def lines() -> list[logging.LogRecord]:
        return [record for record in caplog.records if record.name == REQUESTS_LOGGER]

    return lines


def jwt_for(user) -> str:
    return mint_jwt(user, lifetime=timedelta(minutes=15))


def text_formatter() -> logging.Formatter:
    config = settings.LOGGING["formatters"]["text"]
    return import_string(config["class"])(config["format"], defaults=config["defaults"])


class TestAccessLog:
    def test_one_line_per_request_with_its_fields(self, alice_client, user, access_log):
        response = alice_client.get("/api/tasks?page=1")

        [line] = access_log()
        assert line.levelname == "INFO"
        assert (line.method, line.path, line.status, line.user_id) == ("GET", "/api/tasks", 200, user.id)
        assert line.request_id == response["X-Request-ID"]
        assert isinstance(line.duration_ms, float)
        assert line.duration_ms >= 0
        assert re.fullmatch(rf"GET /api/tasks 200 \d+\.\d\dms user={user.id}", line.getMessage())

    def test_a_jwt_user_is_logged_by_id(self, api_client, user, access_log):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_for(user)}")

        assert api_client.get("/api/me").status_code == 200
        assert access_log()[0].user_id == user.id

    @pytest.mark.django_db
    def test_an_anonymous_request_is_logged_without_a_user(self, api_client, access_log):
        assert api_client.get("/api/me").status_code == 401

        [line] = access_log()
        assert (line.status, line.user_id) == (401, None)
        assert line.getMessage().endswith(" user=-")

    @pytest.mark.django_db
    def test_requests_outside_the_api_are_logged_too(self, client, access_log):
        client.get("/no-such-page")

        [line] = access_log()
        assert (line.method, line.path, line.status, line.user_id) == ("GET", "/no-such-page", 404, None)

    @pytest.mark.django_db
    def test_control_characters_in_the_path_cannot_forge_a_line(self, api_client, access_log):
        api_client.get("/api/x%0A2026-01-01 INFO ironclad.requests GET /api/admin 200")

        [line] = access_log()
        assert line.path == "/api/x\n2026-01-01 INFO ironclad.requests GET /api/admin 200"
        text, entry = text_formatter().format(line), JSONFormatter().format(line)
        assert "\n" not in text
        assert "] GET /api/x\\n2026-01-01 INFO" in text
        assert "\n" not in entry
        assert json.loads(entry)["path"] == line.path

    def test_secrets_never_reach_the_logs(
        self, api_client, user, session, session_cookie, caplog, access_log
    ):
        cookie = session_cookie(session.token)
        token = jwt_for(user)
        api_client.cookies["better-auth.session_token"] = cookie
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert api_client.get("/api/tasks?search=query-secret-1&tag=query-secret-2").status_code == 200
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token-but-a-secret-3")
        assert api_client.get("/api/me?token=query-secret-1").status_code == 401

        written = [
            formatter.format(record)
            for record in caplog.records
            for formatter in (text_formatter(), JSONFormatter())
        ]
        assert len(access_log()) == 2
        assert any("Unauthorized: /api/me" in line for line in written)  # Django's own warning
        for secret in (cookie, session.token, token, "query-secret", "secret-3", "token="):
            assert not [line for line in written if secret in line], secret


class TestRequestId:
    @pytest.mark.django_db
    def test_a_new_id_is_made_and_echoed(self, api_client, access_log):
        response = api_client.get("/api/me")

        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
        assert access_log()[0].request_id == response["X-Request-ID"]

    @pytest.mark.django_db
    @pytest.mark.parametrize("supplied", ["abc-123.DEF_4", "x" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"])
    def test_a_valid_id_from_the_client_is_kept(self, api_client, access_log, supplied):
        response = api_client.get("/api/me", HTTP_X_REQUEST_ID=supplied)

        assert response["X-Request-ID"] == supplied
        assert access_log()[0].request_id == supplied

    @pytest.mark.django_db
    @pytest.mark.parametrize("supplied", ["", "x" * 129, "has space", "semi;colon", "new\nline", "ünï"])
    def test_an_invalid_id_is_replaced(self, api_client, access_log, supplied):
        response = api_client.get("/api/me", HTTP_X_REQUEST_ID=supplied)

        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
        assert access_log()[0].request_id == response["X-Request-ID"]

    @pytest.mark.django_db
    def test_every_response_has_an_id(self, api_client):
        preflight = api_client.options(
            "/api/me", HTTP_ORIGIN="http://localhost:3000", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
        )
        page = api_client.get("/no-such-page")
        health = api_client.get("/health")

        for response in (preflight, page, health):
            assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])

    @pytest.mark.django_db
    def test_each_request_gets_its_own_id(self, api_client):
        first, second = api_client.get("/api/me"), api_client.get("/api/me")

        assert first["X-Request-ID"] != second["X-Request-ID"]

    def test_the_asgi_path_has_ids_and_lines_too(self, access_log):
        response = async_to_sync(AsyncClient().get)("/api/nothing", headers={"X-Request-ID": "async-1"})

        assert response["X-Request-ID"] == "async-1"
        [line] = access_log()
        assert (line.path, line.status, line.request_id) == ("/api/nothing", 404, "async-1")

    @pytest.mark.django_db
    def test_lines_logged_for_the_request_carry_its_id(self, api_client, caplog, access_log):
        response = api_client.get("/api/me", HTTP_X_REQUEST_ID="trace-me")

        [warning] = [record for record in caplog.records if record.name == "django.request"]
        assert warning.getMessage() == "Unauthorized: /api/me"
        assert warning.request_id == response["X-Request-ID"] == "trace-me"


def serve_one_request(**env: str) -> subprocess.CompletedProcess:
    """A fresh process with the given settings answers one request; its log goes to stderr."""
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "Client(SERVER_NAME='localhost').get('/api/nothing?token=query-secret', HTTP_X_REQUEST_ID='req-1')\n"
    )
    inherited = {key: value for key, value in os.environ.items() if key != "LOG_FORMAT"}
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],  # stderr: the log only
        cwd=ROOT,
        env={**inherited, "ALLOWED_HOSTS": "localhost", "LOG_LEVEL": "INFO", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.live
class TestLogFormat:
    def test_text_by_default(self):
        result = serve_one_request()

        assert result.returncode == 0, result.stderr
        assert re.search(
            r"^\S+ \S+ INFO ironclad\.requests \[req-1\] GET /api/nothing 404 \d+\.\d\dms user=-$",
            result.stderr,
            re.MULTILINE,
        ), result.stderr
        assert re.search(r"WARNING django\.request \[req-1\] Not Found: /api/nothing$", result.stderr, re.M)
        assert "query-secret" not in result.stderr

    def test_json_lines_parse_with_the_expected_keys(self):
        result = serve_one_request(LOG_FORMAT="json")

        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stderr.splitlines()]
        [access] = [line for line in lines if line["logger"] == REQUESTS_LOGGER]
        assert set(access) == {
            "time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms",
        }  # fmt: skip
        assert access["level"] == "INFO"
        assert (access["method"], access["path"], access["status"]) == ("GET", "/api/nothing", 404)
        assert access["request_id"] == "req-1"
        assert isinstance(access["duration_ms"], float)
        assert datetime.fromisoformat(access["time"]).tzinfo is not None
        [warning] = [line for line in lines if line["logger"] == "django.request"]
        assert warning["request_id"] == "req-1"
        assert "query-secret" not in result.stderr

    def test_an_unknown_format_stops_start_up(self):
        result = serve_one_request(LOG_FORMAT="xml")

        assert result.returncode != 0
        assert "LOG_FORMAT must be 'text' or 'json', not 'xml'" in result.stderr


def test_the_json_formatter_writes_tracebacks_and_only_known_fields():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    record.request = "<WSGIRequest: GET '/api/me?token=query-secret'>"  # as Django attaches it
    record.user_id = "u1"

    entry = json.loads(JSONFormatter().format(record))

    assert entry["message"] == "failed here"
    assert entry["user_id"] == "u1"
    assert "ValueError: boom" in entry["exc_info"]
    assert "request" not in entry
