"""A webhook receiver for tests: a real HTTP server on loopback, in a thread, that verifies each
request with the `standardwebhooks` library, as a receiver would, and records it.

What it answers is up to the test: `answers` (statuses, used one per request, then 200), `delay`
(seconds before answering), `hang` (never answer until released) and `body`.
"""

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int
    at: float = field(default_factory=time.time)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.payload["type"]

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self.server = server
        self.secret = ""
        self.answers: list[int] = []
        self.delay = 0.0
        self.body = b"ok"
        self.hang = threading.Event()
        self.released = threading.Event()
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks"

    def delivered(self) -> list[Received]:
        """The requests answered with a 2xx, in the order they came."""
        with self.lock:
            return [request for request in self.received if 200 <= request.answered < 300]

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """Wait until `count` requests have been answered with a 2xx; return them."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered())} of {count} deliveries after {timeout} s")
            time.sleep(0.05)
        return self.delivered()

    def handle(self, request: http.server.BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length", 0)))
        headers = {name.lower(): value for name, value in request.headers.items()}
        verified = False
        if self.secret:
            try:
                Verifier(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        if self.hang.is_set():
            self.released.wait(60)
        time.sleep(self.delay)
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            self.received.append(Received(headers, body, verified, status))
        request.send_response(status)
        request.send_header("content-length", str(len(self.body)))
        request.end_headers()
        request.wfile.write(self.body)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
