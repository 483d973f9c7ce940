import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chat.models import Conversation, Message, Role

CHAT = "/api/chat"


@pytest.fixture
def now(settings) -> datetime:
    """A Wednesday afternoon in Paris, the time zone then set: what dates in words are read against."""
    settings.TIME_ZONE = "Europe/Paris"
    return datetime(2026, 11, 25, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))


def at(text: str) -> str:
    """The ISO 8601 moment of a local date and time ("2026-11-26T23:59") in the current time zone."""
    return timezone.make_aware(datetime.fromisoformat(text)).isoformat()


@pytest.fixture
def make_conversation(db):
    def make(user, title: str = "A conversation", **fields) -> Conversation:
        return Conversation.objects.create(user=user, title=title, **fields)

    return make


@pytest.fixture
def make_message(db):
    def make(conversation, content: str = "hello", role: str = Role.USER, **fields) -> Message:
        return Message.objects.create(
            user_id=conversation.user_id, conversation=conversation, role=role, content=content, **fields
        )

    return make


def completion(content: str | None = None, tool_calls: list | None = None) -> dict:
    """A chat.completions response body as the OpenAI API sends it."""
    message: dict[str, object] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "fake-model",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def tool_call(name: str, arguments: dict | str, call_id: str = "call_1") -> dict:
    """One tool call; `arguments` as a dict is encoded, as a string sent as it is (maybe broken)."""
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": encoded}}


class FakeLLM:
    """An OpenAI-compatible server on 127.0.0.1 that answers POST /v1/chat/completions from a
    script: each step is a response body (dict), an HTTP status (int), ("sleep", seconds) and
    optionally the step to answer after the pause, or a function called while the client waits,
    which returns the step."""

    def __init__(self) -> None:
        self.script: list = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "body": body, "authorization": self.headers.get("Authorization")}
                )
                step = fake.script.pop(0) if fake.script else 500
                if callable(step):
                    step = step()
                if isinstance(step, tuple):  # ("sleep", seconds[, then this step])
                    time.sleep(step[1])
                    step = step[2] if len(step) > 2 else completion("too late")
                status, payload = (
                    (step, {"error": {"message": "boom", "type": "server_error"}})
                    if isinstance(step, int)
                    else (200, step)
                )
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        # A short poll interval: shutdown() waits for one, at the end of every test.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def messages(self, number: int = -1) -> list[dict]:
        """The chat messages of one request (the last by default)."""
        return self.requests[number]["body"]["messages"]


@pytest.fixture
def fake_llm(settings):
    fake = FakeLLM()
    fake.thread.start()
    settings.CHAT_PROVIDER = "openai"
    settings.CHAT_OPENAI_BASE_URL = fake.url
    settings.CHAT_OPENAI_API_KEY = "test-key"
    settings.CHAT_OPENAI_MODEL = "fake-model"
    settings.CHAT_OPENAI_TIMEOUT = 5.0
    settings.CHAT_MAX_TOOL_ROUNDS = 3
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
