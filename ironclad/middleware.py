"""Request ids and the access log (one line per request on the "ironclad.requests" logger), and
the refusal of untrusted input no view may see."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers

from ironclad.envelopes import error_response
from ironclad.errors import is_api_path
from ironclad.exceptions import DatabaseTimeout
from ironclad.logs import current_request_id
from ironclad.transactions import is_timeout
from ironclad.untrusted import clip, request_problem

logger = logging.getLogger("ironclad.requests")

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the client or a proxy is kept only when it is short and plain: it goes into the logs.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
LOGGED_PATH_LENGTH = 300


def signed_in_user_id(request: HttpRequest) -> str | None:
    """The id of the user REST framework authenticated, if any.

    DRF authenticates inside the view and then sets `user` and `auth` on this request. Until it
    has, `request.user` is Django's lazy admin-session user, which is left unread: reading it
    would query the database.
    """
    if not hasattr(request, "auth"):
        return None
    user = request.user
    # A better-auth user (accounts.models.User), whose id is a string, not the admin's user model.
    return str(user.pk) if user.is_authenticated else None


class RequestLogMiddleware:
    """Gives each request an id (a valid `X-Request-ID` from the client, else a new one), sends
    it back in `X-Request-ID`, tags the request's log records with it, and logs one line when
    the request is answered: method, path (never the query string), status, duration in ms and
    the signed-in user's id. Never cookies or other headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        # Sync only, like WhiteNoise below it: under ASGI Django runs the stack in a thread.
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = self.start(request)
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
            self.finish(request, response, started, request_id)
        finally:
            current_request_id.reset(token)
        return response

    def start(self, request: HttpRequest) -> str:
        """The request's id, also set as `request.request_id` (ironclad.logs reads it there)."""
        supplied = request.META.get("HTTP_X_REQUEST_ID")
        request_id = supplied if supplied and VALID_REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # an attribute of Ironclad's own
        return request_id

    def finish(
        self, request: HttpRequest, response: HttpResponseBase, started: float, request_id: str
    ) -> None:
        response[REQUEST_ID_HEADER] = request_id
        if not logger.isEnabledFor(logging.INFO):
            return
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        # A decoded %0A in it is escaped by the formatters (ironclad.logs); a long one is cut.
        path = clip(request.path, LOGGED_PATH_LENGTH)
        user_id = signed_in_user_id(request)
        logger.info(
            "%s %s %s %.2fms user=%s",
            request.method,
            path,
            response.status_code,
            duration_ms,
            user_id or "-",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": user_id,
            },
        )


class DatabaseDeadlineMiddleware:
    """Every request has a database deadline: no statement it runs may take longer than
    DATABASE_STATEMENT_TIMEOUT (ironclad.database sets it on the connection, once). A view that
    is not the API's (the admin's, /health) answers a statement past it with a 503 here, as the
    API's exception handler does (database_timeout)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        connection.statement_timeout = settings.DATABASE_STATEMENT_TIMEOUT or None  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if not is_timeout(exception):
            return None
        logger.warning("a statement ran past DATABASE_STATEMENT_TIMEOUT")
        message = str(DatabaseTimeout.default_detail)
        if is_api_path(request.path):
            return error_response(503, DatabaseTimeout.default_code, message)
        return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")


class PrivateAnswersMiddleware:
    """Every answer to a signed-in request says it is private: `Cache-Control: private, no-cache`
    (a client may keep it, and revalidates it: its ETag gets a 304) and `Vary: Authorization,
    Cookie`, so that no shared cache between a client and Ironclad stores one user's answer and
    serves it to another. Public pages (health, the schema, the docs) are left as they are."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if signed_in_user_id(request) is not None:
            response.setdefault("Cache-Control", "private, no-cache")
            patch_vary_headers(response, ("Authorization", "Cookie"))
        return response


class UntrustedInputMiddleware:
    """Answers 400 before any view runs when the path, query string or cookies hold text that
    PostgreSQL cannot take (ironclad.untrusted): a NUL in an admin search, a session cookie or a
    filter would otherwise end in a 500. The JSON error envelope under /api/, plain text elsewhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        problem = request_problem(request)
        if problem is None:
            return self.get_response(request)
        where, message = problem
        if is_api_path(request.path):
            return error_response(400, "validation_error", "The request is invalid.", {where: [message]})
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
