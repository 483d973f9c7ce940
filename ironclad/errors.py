"""Errors as the {"error": {"code", "message", "details"}} envelope, inside and outside DRF views."""

import logging

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ObjectNotUpdated, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponseBase
from django.views import defaults
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ironclad.envelopes import error_body, error_response
from ironclad.exceptions import (
    Conflict,
    DatabaseBusy,
    DatabaseTimeout,
    DatabaseUnavailable,
    PayloadTooLarge,
)
from ironclad.transactions import ATTEMPTS, is_timeout, is_transient, sqlstate
from ironclad.untrusted import bounded, clip

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict) -> Response:
    """Every error as {"error": {"code", "message", "details"}} with its status."""
    if isinstance(exc, Http404 | ObjectDoesNotExist | ObjectNotUpdated):
        # The row went between a view's lookup and a service's locked re-read or update: a
        # concurrent DELETE.
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif is_timeout(exc):
        logger.warning("a statement ran past DATABASE_STATEMENT_TIMEOUT")
        exc = DatabaseTimeout()
    elif is_transient(exc):  # still, after run_in_transaction's attempts
        logger.warning("a write failed %d times on conflicting locks (%s)", ATTEMPTS, sqlstate(exc))
        exc = DatabaseBusy()
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        exc = DatabaseUnavailable()
    elif isinstance(exc, IntegrityError):
        # A constraint the validation could not see coming (e.g. two concurrent creates). The
        # database's message quotes the values: only its start is logged.
        logger.info("integrity error answered as 409: %s", clip(str(exc), 120))
        exc = Conflict()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge.over(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, exceptions.NotAuthenticated) and (why := missing_credential(context)):
        exc.detail = exceptions.ErrorDetail(why, code=exc.default_code)

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error", exc_info=exc)
        set_rollback()
        return Response(
            error_body("server_error", "An unexpected error occurred."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("validation_error", "The request is invalid.", bounded(details))
    elif isinstance(exc, exceptions.APIException):  # as every exception DRF's handler answers is
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        # An exception may carry details for the client, e.g. the chat's tool_calls.
        response.data = error_body(code, str(exc.detail), getattr(exc, "details", None))
    return response


def missing_credential(context: dict) -> str | None:
    """Why a request its view did not sign in holds no credential the view accepts, when it holds
    something its client took for one (a cookie where only bearer tokens are taken, say): the first
    that an authentication class of the view says (its `explain_missing_credential(request)`)."""
    request = context.get("request")
    for authenticator in getattr(request, "authenticators", None) or ():
        explain = getattr(authenticator, "explain_missing_credential", None)
        if explain is not None and (why := explain(request)):
            return why
    return None


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def api_not_found(request: Request, path: str = "") -> Response:
    """Unknown routes under /api/ answer a JSON 404, never an HTML page."""
    raise exceptions.NotFound(f"No API route matches {clip(request.path, 100)!r}.")


def is_api_path(path: str) -> bool:
    """Whether errors on `path` are answered in the JSON envelope (the API) or as a page."""
    return path == "/api" or path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    """handler400 (a Host not in ALLOWED_HOSTS, too many query parameters, ...): JSON under /api/,
    Django's page elsewhere."""
    if is_api_path(request.path):
        return error_response(400, "bad_request", "The request is malformed or not for this server.")
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    """handler404: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path):
        message = f"No API route matches {clip(request.path, 100)!r}."
        return error_response(404, "not_found", message)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponseBase:
    """handler500: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path):
        return error_response(500, "server_error", "An unexpected error occurred.")
    return defaults.server_error(request)
