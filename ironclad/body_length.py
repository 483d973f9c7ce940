"""Request bodies without a Content-Length (chunked, or HTTP/2): read here, or refused.

Django and REST framework read a body only as far as CONTENT_LENGTH says, so a chunked body was
taken for none (`PATCH .../complete` with {"completed": true} toggled the task). The servers
Ironclad runs on end the input where the body ends (wsgi.input_terminated), so the body is read
here, up to DATA_UPLOAD_MAX_MEMORY_SIZE + 1 bytes (more: 413), and passed on with its length.
Where the input does not end (runserver), a chunked body is 411: reading on would hang. Framing
that hides or smuggles a body is 400: a coding other than `chunked`, Transfer-Encoding with
Content-Length, and a chunked body that reads as empty (granian ends the input at a bad chunk).
"""

from collections.abc import Callable
from io import BytesIO
from typing import BinaryIO

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from ironclad.envelopes import error_response
from ironclad.exceptions import PayloadTooLarge

READ_SIZE = 64 * 1024


class BodyLengthMiddleware:
    """Gives a request body that came without a Content-Length one, or refuses the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.refusal(request) or self.get_response(request)

    def refusal(self, request: HttpRequest) -> JsonResponse | None:
        """None once the body has a Content-Length (given, or set here); else the error response."""
        meta = request.META
        coding = meta.get("HTTP_TRANSFER_ENCODING")
        if meta.get("CONTENT_LENGTH"):
            if coding is None:
                return None
            return error_response(
                400, "invalid_transfer_encoding", "Send Content-Length or Transfer-Encoding, not both."
            )
        if coding is not None and coding.strip().lower() != "chunked":
            return error_response(
                400, "invalid_transfer_encoding", "The only Transfer-Encoding accepted is chunked."
            )
        if coding is None and meta.get("SERVER_PROTOCOL", "").startswith("HTTP/1"):
            return None  # HTTP/1.x has no body without either header: nothing to read (most requests)

        stream = body_stream(request)
        if stream is None:
            if coding is None:
                return None
            return error_response(411, "length_required", "Send the request body with a Content-Length.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            body = read_at_most(stream, limit)
        except Exception:  # gunicorn raises its parser's errors at malformed chunks, not only OSError
            return malformed_body()
        if coding is not None and not body:
            return malformed_body()  # granian ends the input at a malformed chunk instead
        if limit is not None and len(body) > limit:
            too_large = PayloadTooLarge.over(limit)
            return error_response(413, too_large.default_code, str(too_large.detail), too_large.details)
        if body:
            meta["CONTENT_LENGTH"] = str(len(body))
            meta.pop("HTTP_TRANSFER_ENCODING", None)
            request._stream = BytesIO(body)  # as HttpRequest.body leaves it once it has read the body
        return None


def body_stream(request: HttpRequest) -> BinaryIO | None:
    """The request's input, which ends where its body ends; None where it may not end there."""
    if isinstance(request, ASGIRequest):
        return request._stream  # the whole body, received by Django before the request was built
    if request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"]
    return None


def read_at_most(stream: BinaryIO, limit: int | None) -> bytes:
    """The stream to its end, or its first `limit` + 1 bytes: enough to tell it is too large."""
    chunks, size = [], 0
    while limit is None or size <= limit:
        chunk = stream.read(READ_SIZE if limit is None else min(READ_SIZE, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def malformed_body() -> JsonResponse:
    return error_response(400, "malformed_body", "The chunked request body is empty or malformed.")
