"""`@idempotent`: the Idempotency-Key header (IETF httpapi idempotency-key draft) on a write.

The first request with a key runs; its answer (status, body, ETag) is kept for 24 hours, per user
and key, and a repeat of the request gets that answer again without running anything, marked
`Idempotent-Replayed: true`. The same key with another request is 422; while the first runs, 409.
"""

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.db import transaction
from django.http import HttpResponse, HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import signed_in_user
from idempotency import services
from idempotency.models import KEY_MAX_LENGTH, IdempotentRequest
from ironclad.api import canonical_json
from ironclad.conditional import CONDITIONS

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The headers of an answer that a replay repeats.
KEPT_HEADERS = ("Content-Type", "ETag", "Location")

Handler = Callable[..., HttpResponseBase]
H = TypeVar("H", bound=Handler)


def idempotency_key(header: str) -> str:
    """The key a header gives: a Structured Fields string ("...", as the draft writes it) or the
    bare value, 1 to 255 printable ASCII characters; anything else is a 400."""
    key = header.strip()
    if len(key) > 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(key) <= KEY_MAX_LENGTH or not all(" " <= character <= "~" for character in key):
        message = f"Must be 1 to {KEY_MAX_LENGTH} printable ASCII characters, e.g. a UUID."
        raise exceptions.ValidationError({HEADER: [message]})
    return key


def fingerprint(request: Request, kwargs: dict[str, Any]) -> str:
    """The request a key stands for: its method, route (with or without the compatibility prefix
    /api/{user_id}/, the same), path arguments, conditions (If-Match, If-None-Match) and body (as
    parsed JSON: spacing and key order do not count)."""
    route = request.resolver_match.url_name if request.resolver_match else request.path
    arguments = sorted((name, value) for name, value in kwargs.items() if name != "user_id")
    conditions = [request.headers.get(name) for name in CONDITIONS]
    return hashlib.sha256(
        canonical_json([request.method, route, arguments, conditions, request.data])
    ).hexdigest()


def idempotent(*, atomic: bool = True) -> Callable[[H], H]:
    """A view handler that honours Idempotency-Key.

    With `atomic`, the handler runs in a transaction with the keeping of its answer: a crash
    cannot leave one without the other. An answer is kept unless the handler failed with a 5xx
    (nothing it wrote stays, and a retry may run it again). A view whose handler commits along the
    way (the chat: the message first, each tool call on its own) says `atomic=False`: whatever its
    answer, something may have been written, so every answer is kept."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
            header = request.headers.get(HEADER)
            if header is None:
                return handler(view, request, *args, **kwargs)
            key = idempotency_key(header)
            record = services.claim(signed_in_user(request), key, fingerprint(request, kwargs))
            if record.status is not None:
                return replay(record)

            kept = False
            try:
                if not atomic:
                    response, _failed = _answer(view, handler, request, args, kwargs)
                    _keep(record, response)
                    kept = True
                    return response
                with transaction.atomic():
                    response, failed = _answer(view, handler, request, args, kwargs)
                    if failed:  # nothing it wrote stays
                        transaction.set_rollback(True)
                    else:  # its writes and its answer commit together
                        _keep(record, response)
                kept = not failed  # only once the commit has succeeded
                if failed and response.status_code < 500:  # a refusal: a retry would be refused again
                    _keep(record, response)
                    kept = True
                return response
            finally:
                if not kept:
                    services.release(record)

        wrapper.idempotent = True  # type: ignore[attr-defined]  # read by the OpenAPI schema
        return cast(H, wrapper)

    return decorate


def _answer(
    view: APIView, handler: Handler, request: Request, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[HttpResponseBase, bool]:
    """The handler's answer as DRF's dispatch would send it (an error answered, rendered), and
    whether the handler failed (raised) rather than answered."""
    failed = False
    try:
        response = handler(view, request, *args, **kwargs)
    except Exception as exc:  # answered exactly as dispatch answers it
        response = view.handle_exception(exc)
        failed = True
    # DRF's stubs type the answer as a Response; dispatch finalizes any response.
    response = view.finalize_response(request, cast(Response, response), *args, **kwargs)
    render = getattr(response, "render", None)
    if render is not None:
        render()
    return response, failed


def _keep(record: IdempotentRequest, response: HttpResponseBase) -> None:
    headers = {name: response[name] for name in KEPT_HEADERS if name in response}
    body = response.content if isinstance(response, HttpResponse) else b""
    services.keep_answer(record, status=response.status_code, headers=headers, body=body)


def replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status or 200, headers=record.headers)
    response[REPLAYED_HEADER] = "true"
    return response
