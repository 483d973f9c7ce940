"""A request body without a Content-Length is read, or the request refused: never taken for no
body (ironclad/body_length.py).

First through each server as deployed (`python -m config.serve`), signed in with a JWT: the
dashboard's `PATCH /api/tasks/{id}/complete` with {"completed": true} sent chunked, which used to
toggle the task. Then the middleware alone, for what no server here passes on to it.
"""

import http.client
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse

from ironclad.body_length import BodyLengthMiddleware
from tests.net import Response, free_port, migrate, new_database, server_env, serving

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 4096  # MAX_REQUEST_BODY_BYTES of the servers started here
SERVERS = {
    "granian": {},
    "gunicorn": {"SERVER": "gunicorn"},
    "gunicorn-gthread": {"SERVER": "gunicorn", "GUNICORN_WORKER_CLASS": "gthread"},
    "uvicorn": {"SERVER": "uvicorn"},
}
CREATE_ALICE = (
    "from accounts.models import User; from accounts.tokens import mint_jwt; "
    "print(mint_jwt(User.objects.create(id='alice', name='Alice', email='alice@example.com')))"
)


@dataclass
class Client:
    """Alice's requests to a server on loopback, each on a connection of its own."""

    port: int
    token: str

    def send(
        self, method: str, path: str, data: dict | None = None, *, chunked: bool = False, **headers: str
    ) -> Response:
        body = json.dumps(data).encode() if data is not None else b""
        if not chunked:
            return self.send_framed(method, path, body, **{"Content-Length": str(len(body)), **headers})
        # Seven bytes a chunk: the body really arrives in pieces.
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
        return self.send_framed(method, path, framed, **{"Transfer-Encoding": "chunked", **headers})

    def send_framed(self, method: str, path: str, framed: bytes, **headers: str) -> Response:
        """The headers, then `framed` as it is (http.client would frame a body by its own rules)."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **headers}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest(method, path)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(framed)
            response = connection.getresponse()
            return Response(response.status, response.msg, response.read())
        finally:
            connection.close()


def payload(response: Response) -> dict:
    return json.loads(response.body)


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    with new_database(tmp_path) as url:
        yield url


@contextmanager
def alice_on(server: dict[str, str], database_url: str, tmp_path: Path) -> Iterator[Client]:
    """Ironclad served as deployed on a migrated database, and a client signed in as Alice."""
    port = free_port()
    env = server_env(
        port=port,
        database_url=database_url,
        static_root=tmp_path / "static",
        HTTPS_ONLY="false",
        WEB_CONCURRENCY="1",
        MAX_REQUEST_BODY_BYTES=str(LIMIT),
        **server,
    )
    manage = [sys.executable, "manage.py"]
    migrate(env, cwd=ROOT)
    alice = subprocess.run(
        [*manage, "shell", "-v0", "-c", CREATE_ALICE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert alice.returncode == 0, alice.stderr
    command = [sys.executable, "-m", "config.serve"]
    with serving(command, env=env, log=tmp_path / "server.log", cwd=ROOT):
        yield Client(port, alice.stdout.strip())


# --- through the servers ---------------------------------------------------------------------------

# Both Transfer-Encoding and Content-Length: granian drops the Content-Length, as RFC 9112 says to,
# and reads the chunks; gunicorn refuses such a request itself; uvicorn passes both on.
BOTH_LENGTHS_STATUS = {"granian": 200, "gunicorn": 400, "gunicorn-gthread": 400, "uvicorn": 400}


@pytest.mark.live
@pytest.mark.parametrize("server_name", list(SERVERS))
def test_each_server_reads_a_chunked_body_or_refuses_it(server_name, database_url, tmp_path):
    with alice_on(SERVERS[server_name], database_url, tmp_path) as alice:
        # A body with a Content-Length works as it always did.
        created = alice.send("POST", "/api/tasks", {"title": "Water the plants"})
        assert created.status == 201, created.text
        task = f"/api/tasks/{payload(created)['data']['id']}"
        complete = f"{task}/complete"

        # Twice: were the body ignored, the second request would toggle the task back.
        for _ in range(2):
            done = alice.send("PATCH", complete, {"completed": True}, chunked=True)
            assert done.status == 200, done.text
            assert payload(done)["data"]["completed"] is True
        reopened = alice.send("PATCH", complete, {"completed": False})
        assert payload(reopened)["data"]["completed"] is False

        too_large = alice.send("PATCH", complete, {"completed": True, "pad": "x" * LIMIT}, chunked=True)
        assert too_large.status == 413, too_large.text
        assert payload(too_large) == {
            "error": {
                "code": "payload_too_large",
                "message": f"The request body is larger than {LIMIT} bytes.",
                "details": {"max_bytes": LIMIT},
            }
        }

        # Refused by the server or here, never taken for no body (which would toggle the task).
        encoded = alice.send(
            "PATCH", complete, {"completed": True}, chunked=True, **{"Transfer-Encoding": "gzip, chunked"}
        )
        assert encoded.status == 400, encoded.text
        not_chunked = alice.send_framed(
            "PATCH", complete, b'{"completed": true}\r\n', **{"Transfer-Encoding": "chunked"}
        )
        assert not_chunked.status == 400, not_chunked.text
        assert payload(alice.send("GET", task))["data"]["completed"] is False

        both = alice.send("PATCH", complete, {"completed": True}, chunked=True, **{"Content-Length": "5"})
        assert both.status == BOTH_LENGTHS_STATUS[server_name], both.text
        assert payload(alice.send("GET", task))["data"]["completed"] is (both.status == 200)


def curl_speaks_http2() -> bool:
    curl = shutil.which("curl")
    return curl is not None and "HTTP2" in subprocess.run([curl, "-V"], capture_output=True, text=True).stdout


@pytest.mark.live
def test_granian_reads_an_http2_body_sent_without_a_content_length(database_url, tmp_path):
    """granian also speaks HTTP/2 on the plain port, where a body needs no content-length at all."""
    if not curl_speaks_http2():
        pytest.skip("needs curl with HTTP/2")
    with alice_on(SERVERS["granian"], database_url, tmp_path) as alice:
        created = alice.send("POST", "/api/tasks", {"title": "Water the plants"})
        complete = f"http://127.0.0.1:{alice.port}/api/tasks/{payload(created)['data']['id']}/complete"

        def patch_over_http2(body: bytes) -> dict:
            # `-T -` streams standard input: curl cannot know its length, so sends none.
            headers = [f"Authorization: Bearer {alice.token}", "Content-Type: application/json"]
            command = ["curl", "-sS", "--http2-prior-knowledge", "-X", "PATCH", "-T", "-", complete]
            command += [argument for header in headers for argument in ("-H", header)]
            command += ["-w", "\n%{http_version}"]
            answer = subprocess.run(command, input=body, capture_output=True, check=True, timeout=30)
            text, _, version = answer.stdout.decode().rpartition("\n")
            assert version == "2"
            return json.loads(text)

        for _ in range(2):
            assert patch_over_http2(b'{"completed": true}')["data"]["completed"] is True
        assert patch_over_http2(b"x" * (LIMIT + 1))["error"]["code"] == "payload_too_large"


# --- the middleware alone ---------------------------------------------------------------------------


class CountingStream(BytesIO):
    """A request's input that remembers how many bytes were read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def chunked_wsgi_request(body: bytes, *, terminated: bool = True, **meta: str) -> WSGIRequest:
    """A request as a WSGI server hands on a chunked one: de-chunked input, no CONTENT_LENGTH."""
    environ = {
        "REQUEST_METHOD": "PATCH",
        "PATH_INFO": "/api/tasks/1/complete",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": CountingStream(body),
        **meta,
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return WSGIRequest(environ)


def echo_body(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.body)


middleware = BodyLengthMiddleware(echo_body)


def test_a_chunked_body_is_passed_on_with_its_content_length():
    request = chunked_wsgi_request(b'{"completed": true}')

    response = middleware(request)

    assert response.content == b'{"completed": true}'
    assert request.META["CONTENT_LENGTH"] == "19"
    assert "HTTP_TRANSFER_ENCODING" not in request.META


def test_no_more_than_the_limit_and_one_byte_is_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    request = chunked_wsgi_request(b"x" * 1_000_000)

    response = middleware(request)

    assert response.status_code == 413
    assert json.loads(response.content)["error"]["details"] == {"max_bytes": 1000}
    assert request.META["wsgi.input"].bytes_read == 1001


def test_a_body_of_exactly_the_limit_is_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    assert middleware(chunked_wsgi_request(b"x" * 1000)).content == b"x" * 1000


def test_without_a_limit_the_whole_body_is_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None

    assert middleware(chunked_wsgi_request(b"x" * 200_000)).content == b"x" * 200_000


def test_a_wsgi_server_that_may_not_end_the_input_with_the_body_gets_411():
    """runserver's input is the socket itself: reading to its end would wait on the client."""
    request = chunked_wsgi_request(b'{"completed": true}', terminated=False)

    response = middleware(request)

    assert response.status_code == 411
    assert json.loads(response.content)["error"]["code"] == "length_required"
    assert request.META["wsgi.input"].bytes_read == 0


@pytest.mark.parametrize("coding", ["gzip, chunked", "chunked, chunked", "identity", "gzip"])
def test_a_coding_other_than_chunked_alone_is_refused(coding):
    response = middleware(chunked_wsgi_request(b"{}", HTTP_TRANSFER_ENCODING=coding))

    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "invalid_transfer_encoding"


def test_transfer_encoding_with_content_length_is_refused():
    response = middleware(chunked_wsgi_request(b"{}", CONTENT_LENGTH="2"))

    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "invalid_transfer_encoding"


def test_a_body_with_a_content_length_is_left_alone():
    request = chunked_wsgi_request(b"{}x", CONTENT_LENGTH="2")
    del request.META["HTTP_TRANSFER_ENCODING"]

    assert middleware(request).content == b"{}"


def test_under_asgi_the_body_django_received_is_read():
    scope = {
        "type": "http",
        "method": "PATCH",
        "path": "/api/tasks/1/complete",
        "headers": [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")],
    }
    request = ASGIRequest(scope, BytesIO(b'{"completed": true}'))

    assert middleware(request).content == b'{"completed": true}'
    assert request.META["CONTENT_LENGTH"] == "19"


def test_a_chunked_body_that_reads_as_empty_is_refused():
    """What granian hands on for chunks it cannot take apart: it ends the input without an error."""
    response = middleware(chunked_wsgi_request(b""))

    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "malformed_body"


def test_a_body_the_server_fails_to_read_is_refused():
    class MalformedChunks(BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise ValueError("Invalid chunk size")  # gunicorn's InvalidChunkSize is no OSError

    response = middleware(chunked_wsgi_request(b"", **{"wsgi.input": MalformedChunks()}))

    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "malformed_body"


def test_a_request_without_a_body_is_passed_on_as_it_came():
    request = chunked_wsgi_request(b"")
    del request.META["HTTP_TRANSFER_ENCODING"]

    assert middleware(request).status_code == 200
    assert "CONTENT_LENGTH" not in request.META
