"""Request limits: throttling per user, per client IP and for the chat; the body size; CORS."""

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import RequestDataTooBig

from ironclad.errors import exception_handler
from todos.models import Task

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FRONTEND = "http://localhost:3000"


pytestmark = pytest.mark.usefixtures("fresh_throttle_counts")


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["message"].startswith("Request was throttled.")
    assert error["details"] == {}


class TestThrottling:
    @pytest.mark.django_db
    def test_anonymous_requests_are_limited_per_client_ip(self, api_client, rates):
        rates(anon="2/min")

        assert [api_client.get("/api/nothing").status_code for _ in range(2)] == [404, 404]
        assert_throttled(api_client.get("/api/nothing"))
        assert api_client.get("/api/nothing", REMOTE_ADDR="192.0.2.7").status_code == 404

    def test_signed_in_requests_are_limited_per_user(self, alice_client, bob_client, rates):
        rates(user="2/min")

        assert [alice_client.get("/api/me").status_code for _ in range(2)] == [200, 200]
        assert_throttled(alice_client.get("/api/me"))
        assert bob_client.get("/api/me").status_code == 200  # same IP, another user

    def test_the_chat_is_limited_more_strictly(self, alice_client, rates):
        rates(user="100/min", chat="1/min")

        assert alice_client.post("/api/chat", {"message": "what's pending?"}).status_code == 200
        assert_throttled(alice_client.post("/api/chat", {"message": "what's pending?"}))
        assert alice_client.get("/api/tasks").status_code == 200

    def test_the_chat_limit_covers_the_compatibility_prefix(self, alice_client, user, rates):
        rates(chat="1/min")

        assert alice_client.post("/api/chat", {"message": "what's pending?"}).status_code == 200
        assert_throttled(alice_client.post(f"/api/{user.id}/chat", {"message": "what's pending?"}))

    def test_a_lowered_rate_still_says_when_to_retry(self, alice_client, rates):
        rates(user="3/min")
        for _ in range(3):
            alice_client.get("/api/me")

        rates(user="1/min")  # a history longer than the new rate: DRF itself gives no wait

        assert_throttled(alice_client.get("/api/me"))

    def test_a_limit_turned_off_never_refuses(self, alice_client, rates):
        rates(user=None)

        assert {alice_client.get("/api/me").status_code for _ in range(5)} == {200}

    @pytest.mark.django_db
    def test_behind_one_proxy_the_forwarded_client_is_counted(self, api_client, rates, settings):
        rates(anon="1/min")
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

        assert api_client.get("/api/x", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 404
        assert api_client.get("/api/x", HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 404
        assert_throttled(api_client.get("/api/x", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.1"))

    @pytest.mark.django_db
    def test_without_proxies_a_forwarded_for_header_is_ignored(self, api_client, rates):
        rates(anon="1/min")

        assert api_client.get("/api/x", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 404
        assert_throttled(api_client.get("/api/x", HTTP_X_FORWARDED_FOR="203.0.113.2"))

    def test_the_front_end_can_read_a_refusal(self, alice_client, rates):
        rates(user="1/min")
        alice_client.get("/api/me")

        response = alice_client.get("/api/me")

        assert_throttled(response)
        assert response["Access-Control-Allow-Origin"] == FRONTEND
        assert response["Access-Control-Allow-Credentials"] == "true"
        exposed = {name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")}
        assert {"retry-after", "x-request-id"} <= exposed

    @pytest.mark.live
    @pytest.mark.parametrize("name", ["THROTTLE_USER_RATE", "THROTTLE_ANON_RATE", "THROTTLE_CHAT_RATE"])
    def test_a_malformed_rate_stops_start_up(self, name):
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=ROOT,
            env={**os.environ, name: "600 per minute"},
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode != 0
        assert f"{name} must be a rate such as 600/min, or off, not '600 per minute'" in result.stderr

    @pytest.mark.live
    @pytest.mark.parametrize(
        ("value", "rate"), [("off", None), ("OFF", None), ("", "600/min"), ("90/s", "90/s")]
    )
    def test_off_turns_a_limit_off_and_blank_means_the_default(self, value, rate):
        script = (
            "from django.conf import settings as s; print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['user'])"
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
            cwd=ROOT,
            env={**os.environ, "THROTTLE_USER_RATE": value},
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(rate)


REDIS_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
client = Client(REMOTE_ADDR=sys.argv[1], SERVER_NAME="localhost")
responses = [client.get("/api/nothing") for _ in range(2)]
print(json.dumps([[r.status_code, r.get("Retry-After")] for r in responses]))
"""


def redis_or_skip() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except (redis.RedisError, OSError):
        pytest.skip(f"no Redis at {REDIS_URL} (set TEST_REDIS_URL to use another)")


@pytest.mark.live
def test_counts_in_redis_are_shared_between_processes():
    redis_or_skip()
    from django.core.cache.backends.redis import RedisCache

    client_ip = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"  # one nobody else uses
    env = {
        **os.environ,
        "CACHE_URL": REDIS_URL,
        "THROTTLE_ANON_RATE": "3/min",
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "WARNING",
    }

    # The two processes must count in the same one-minute window.
    while time.time() % 60 > 50:
        time.sleep(1)

    def serve_two() -> list:
        result = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", REDIS_SCRIPT, client_ip],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    try:
        first, second = serve_two(), serve_two()
    finally:
        window = int(time.time() // 60)
        RedisCache(REDIS_URL, {}).delete_many(
            [f"throttle_{scope}_{client_ip}:{w}" for scope in ("anon", "user") for w in (window - 1, window)]
        )

    assert first == [[404, None], [404, None]]
    assert second[0] == [404, None]
    assert second[1][0] == 429
    assert 0 < int(second[1][1]) <= 60


class TestBodySize:
    def test_an_oversized_body_is_a_413(self, alice_client, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

        response = alice_client.post("/api/tasks", {"title": "big", "description": "x" * 2000})

        assert response.status_code == 413
        assert response.json() == {
            "error": {
                "code": "payload_too_large",
                "message": "The request body is larger than 1000 bytes.",
                "details": {"max_bytes": 1000},
            }
        }
        assert not Task.objects.exists()

    def test_a_body_within_the_limit_is_read(self, alice_client, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

        response = alice_client.post("/api/tasks", {"title": "small", "description": "x" * 500})

        assert response.status_code == 201

    def test_the_chat_refuses_an_oversized_message(self, alice_client, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

        response = alice_client.post("/api/chat", {"message": "add " + "x" * 200})

        assert response.status_code == 413

    def test_django_reading_a_too_large_body_is_a_413_too(self):
        response = exception_handler(RequestDataTooBig("too big"), {})

        assert response.status_code == 413
        assert response.data["error"]["code"] == "payload_too_large"


class TestCors:
    @pytest.mark.django_db
    def test_the_front_end_may_send_a_request_id(self, api_client):
        response = api_client.options(
            "/api/tasks",
            HTTP_ORIGIN=FRONTEND,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-request-id",
        )

        assert response["Access-Control-Allow-Origin"] == FRONTEND
        assert response["Access-Control-Allow-Credentials"] == "true"
        assert "x-request-id" in response["Access-Control-Allow-Headers"]

    def test_a_credentialed_request_from_the_front_end_is_allowed(self, alice_client):
        response = alice_client.get("/api/me")

        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == FRONTEND
        assert response["Access-Control-Allow-Credentials"] == "true"

    @pytest.mark.django_db
    def test_other_origins_are_not_allowed(self, api_client):
        response = api_client.get("/api/me", HTTP_ORIGIN="https://evil.example")

        assert "Access-Control-Allow-Origin" not in response
