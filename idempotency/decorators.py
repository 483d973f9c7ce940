"""`@idempotent`: the Idempotency-Key header (IETF httpapi idempotency-key draft) on a write.

The first request with a key runs; its answer (status, body, ETag) is kept for 24 hours, per user
and key, and a repeat of the request gets that answer again without running anything, marked
`Idempotent-Replayed: true`. The same key with another request is 422; while the first runs, 409.
"""

import functools
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import signed_in_user
from accounts.models import User
from idempotency import services
from idempotency.models import KEY_MAX_LENGTH, IdempotentRequest
from ironclad.conditional import CONDITIONS
from ironclad.envelopes import canonical_json
from ironclad.exceptions import IdempotencyAnswerTooLarge
from ironclad.metrics import IDEMPOTENT_REPLAYS
from ironclad.transactions import is_transient, run_in_transaction

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The headers of an answer that a replay repeats.
KEPT_HEADERS = ("Content-Type", "ETag", "Location")

# A Structured Fields string: the key in quotes, `\"` and `\\` escaped inside.
SF_STRING = re.compile(r'"((?:[^"\\]|\\["\\])*)"')

Handler = Callable[..., HttpResponseBase]
H = TypeVar("H", bound=Handler)
# A view's reader of an answer kept by reference: (user, status, reference) -> (status, body).
ReadAgain = Callable[[User, int, dict[str, Any]], tuple[int, bytes]]


def idempotency_key(header: str) -> str:
    """The key a header gives: a Structured Fields string ("...", as the draft writes it) or the
    bare value, 1 to 255 printable ASCII characters; anything else is a 400. A bare value has no
    comma: two Idempotency-Key headers reach the view joined by one ("a,b"), and are refused."""
    key = header.strip()
    quoted = SF_STRING.fullmatch(key)
    if quoted:
        key = re.sub(r"\\(.)", r"\1", quoted.group(1))
    if (
        not 1 <= len(key) <= KEY_MAX_LENGTH
        or not all(" " <= character <= "~" for character in key)
        or (not quoted and ("," in key or key.startswith('"')))
    ):
        message = f"Must be one key of 1 to {KEY_MAX_LENGTH} printable ASCII characters, e.g. a UUID."
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


def idempotent(*, atomic: bool = True, read_again: ReadAgain | None = None) -> Callable[[H], H]:
    """A view handler that honours Idempotency-Key.

    With `atomic`, the handler runs in a transaction with the keeping of its answer: a crash
    cannot leave one without the other, and a deadlock runs both again. An answer is kept unless
    the handler failed with a 5xx (nothing it wrote stays, and a retry may run it again) or was
    refused for want of room (a quota, which the user may make room in); an answer larger than
    IDEMPOTENCY_ANSWER_MAX_BYTES is refused instead (422, nothing written).

    A view whose handler commits along the way (the chat: the message first, each tool call on its
    own) says `atomic=False`: whatever its answer, something may have been written, so every
    answer is kept; one too large is kept by the reference its view puts on the response
    (`kept_by_reference`), and `read_again(user, status, reference)` reads it again for a replay."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
            header = request.headers.get(HEADER)
            if header is None:
                return handler(view, request, *args, **kwargs)
            key = idempotency_key(header)
            user = signed_in_user(request)
            record = services.claim(user, key, fingerprint(request, kwargs))
            if record.status is not None:
                return replay(record, user, read_again)

            def answer(*, in_transaction: bool) -> tuple[HttpResponseBase, bool]:
                return _answer(view, handler, request, args, kwargs, in_transaction=in_transaction)

            kept = False
            try:
                if not atomic:
                    response, _failed = answer(in_transaction=False)
                    kept = not _refused_for_room(response) and _keep(record, response)
                    return response

                def answer_and_keep() -> tuple[HttpResponseBase, bool]:
                    response, failed = answer(in_transaction=True)
                    if not failed and (size := _size(response)) > settings.IDEMPOTENCY_ANSWER_MAX_BYTES:
                        too_large = IdempotencyAnswerTooLarge(size, settings.IDEMPOTENCY_ANSWER_MAX_BYTES)
                        response, failed = _respond(view, request, args, kwargs, too_large), True
                    if failed:  # nothing it wrote stays
                        transaction.set_rollback(True)
                    else:  # its writes and its answer commit together
                        _keep(record, response)
                    return response, failed

                response, failed = run_in_transaction(answer_and_keep)
                kept = not failed  # only once the commit has succeeded
                # A refusal: a retry would be refused again. But not one for want of room, which
                # deleting something undoes: the same key then runs.
                if failed and response.status_code < 500 and not _refused_for_room(response):
                    kept = _keep(record, response)
                return response
            finally:
                if not kept:
                    services.release(record)

        wrapper.idempotent = True  # type: ignore[attr-defined]  # read by the OpenAPI schema
        return cast(H, wrapper)

    return decorate


def _answer(
    view: APIView,
    handler: Handler,
    request: Request,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    in_transaction: bool,
) -> tuple[HttpResponseBase, bool]:
    """The handler's answer as DRF's dispatch would send it (an error answered, rendered), and
    whether the handler failed (raised) rather than answered. In a transaction, a deadlock is not
    answered but raised: run_in_transaction runs everything again."""
    try:
        response = handler(view, request, *args, **kwargs)
    except Exception as exc:
        if in_transaction and is_transient(exc):
            raise
        return _respond(view, request, args, kwargs, exc), True
    return _finalized(view, request, args, kwargs, response), False


def _respond(
    view: APIView, request: Request, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
) -> HttpResponseBase:
    """The answer to `exc`, exactly as dispatch answers it."""
    return _finalized(view, request, args, kwargs, view.handle_exception(exc))


def _finalized(
    view: APIView, request: Request, args: tuple[Any, ...], kwargs: dict[str, Any], response: Any
) -> HttpResponseBase:
    # DRF's stubs type the answer as a Response; dispatch finalizes any response.
    response = view.finalize_response(request, cast(Response, response), *args, **kwargs)
    render = getattr(response, "render", None)
    if render is not None:
        render()
    return cast(HttpResponseBase, response)


def _refused_for_room(response: HttpResponseBase) -> bool:
    """A 409 quota_exceeded: nothing ran (a quota is checked before anything is written)."""
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return response.status_code == 409 and isinstance(error, dict) and error.get("code") == "quota_exceeded"


def _body(response: HttpResponseBase) -> bytes:
    return response.content if isinstance(response, HttpResponse) else b""


def _headers(response: HttpResponseBase) -> dict[str, str]:
    return {name: response[name] for name in KEPT_HEADERS if name in response}


def _size(response: HttpResponseBase) -> int:
    """What keeping the answer whole would take: its body and the headers a replay repeats."""
    return services.answer_bytes(_headers(response), _body(response))


def _keep(record: IdempotentRequest, response: HttpResponseBase) -> bool:
    """Keep the answer; whether it was. Too large to keep whole, it is kept by the reference its
    view gave; without one (no view does that), not at all, and a retry runs again."""
    headers = _headers(response)
    if _size(response) <= settings.IDEMPOTENCY_ANSWER_MAX_BYTES:
        services.keep_answer(record, status=response.status_code, headers=headers, body=_body(response))
        return True
    reference = getattr(response, "kept_by_reference", None)
    if reference is None:
        logger.warning("an answer of %d bytes has no reference to keep: its key is released", _size(response))
        return False
    services.keep_reference(record, status=response.status_code, headers=headers, reference=reference)
    return True


def keep_by_reference[R: HttpResponseBase](response: R, reference: dict[str, Any]) -> R:
    """Mark `response` as one to keep, if too large to keep whole, as `reference`: what the view's
    `read_again` reads it again from."""
    response.kept_by_reference = reference  # type: ignore[attr-defined]  # read by _keep
    return response


def replay(record: IdempotentRequest, user: User, read_again: ReadAgain | None) -> HttpResponse:
    status, body = record.status or 200, bytes(record.body)
    if record.reference is not None and read_again is not None:
        status, body = read_again(user, status, record.reference)
    response = HttpResponse(body, status=status, headers=record.headers)
    response[REPLAYED_HEADER] = "true"
    IDEMPOTENT_REPLAYS.inc()
    return response
