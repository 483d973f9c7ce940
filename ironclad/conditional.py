"""Conditional requests (RFC 9110 §13): a strong ETag for an object's representation, and the
If-Match and If-None-Match preconditions, evaluated in the RFC's order (If-Match first; `*`
matches any current representation; If-Match compares strongly, If-None-Match weakly). Ironclad
sends no Last-Modified, so If-Unmodified-Since and If-Modified-Since are ignored, as the RFC asks."""

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django.db import models
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from ironclad.envelopes import canonical_json
from ironclad.exceptions import PreconditionFailed

if TYPE_CHECKING:  # as ironclad.views: a mixin typed against the view it is mixed into
    from rest_framework.generics import GenericAPIView

    _ViewMixinBase = GenericAPIView[Any]
else:
    _ViewMixinBase = object

CONDITIONS = {"If-Match": "HTTP_IF_MATCH", "If-None-Match": "HTTP_IF_NONE_MATCH"}
# RFC 9110's entity-tag, of visible ASCII characters (the obsolete non-ASCII ones never match ours).
ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
# A condition's whole value: `*`, or a list of entity tags, in which empty elements (", ,") are
# allowed and ignored (RFC 9110 §5.6.1). The OpenAPI schema gives the same pattern.
CONDITION = re.compile(rf"[ \t]*(?:\*|(?:,[ \t]*)*{ENTITY_TAG}(?:[ \t]*,(?:[ \t]*{ENTITY_TAG})?)*)[ \t]*")
CONDITION_PATTERN = f"^{CONDITION.pattern}$"


def etag_of(representation: Mapping[str, Any]) -> str:
    """A strong entity tag: a digest of the representation as canonical JSON. Any change to what a
    client would read changes it; nothing else does."""
    return f'"{hashlib.blake2b(canonical_json(representation), digest_size=16).hexdigest()}"'


def has_preconditions(request: HttpRequest | Request) -> bool:
    return any(key in request.META for key in CONDITIONS.values())


def _listed_etags(request: HttpRequest | Request, header: str) -> list[str] | None:
    """The entity tags a condition lists (["*"] for any), or None without it. Anything else is a
    400: ignored, an If-Match would let a write through unchecked. So is an empty value, which is
    also what granian makes of a value that does not decode (non-ASCII bytes)."""
    value = request.META.get(CONDITIONS[header])
    if value is None:
        return None
    if not CONDITION.fullmatch(value):
        message = 'Must be quoted entity tags, as the ETag header gives them ("..."), or *.'
        raise exceptions.ValidationError({header: [message]})
    return ["*"] if value.strip() == "*" else re.findall(ENTITY_TAG, value)


def check_preconditions(request: HttpRequest | Request, etag: str) -> HttpResponseBase | None:
    """None when the request may go on with the representation whose tag is `etag`; a 304 for a
    GET or HEAD whose If-None-Match matches (the client's copy is current). A failed precondition
    otherwise raises PreconditionFailed (412)."""
    if_match = _listed_etags(request, "If-Match")
    if if_match is not None and if_match != ["*"] and etag not in if_match:  # W/"x" never equals "x"
        raise PreconditionFailed()
    if_none_match = _listed_etags(request, "If-None-Match")
    if if_none_match is not None and (
        if_none_match == ["*"] or etag in {tag.removeprefix("W/") for tag in if_none_match}
    ):
        if request.method in ("GET", "HEAD"):
            return HttpResponseNotModified(headers={"ETag": etag})
        raise PreconditionFailed()
    return None


class ConditionalObjects(_ViewMixinBase):
    """A viewset mixin: each object's responses carry its ETag (`etag_actions`); a GET with a
    matching If-None-Match is a 304. A write (PUT, PATCH, DELETE, a detail action) with If-Match
    or If-None-Match hands its service a `precondition()`, which the service checks against the
    object as it is once locked, until the write commits: 412 when it has changed."""

    etag_actions: tuple[str, ...] = ("retrieve", "create", "update", "partial_update")

    def representation(self, instance: models.Model) -> dict[str, Any]:
        """The object as a GET of it shows it (the viewset's own serializer), which its ETag tags."""
        serializer_class = cast(type[BaseSerializer[Any]], type(self).serializer_class)
        representation: dict[str, Any] = serializer_class(
            instance, context=self.get_serializer_context()
        ).data
        return representation

    def precondition(self) -> Callable[[models.Model], None] | None:
        """The request's preconditions as a check of the object they are about, or None without
        any. Malformed ones are a 400 at once, before anything is read or locked."""
        if not has_preconditions(self.request):
            return None
        for header in CONDITIONS:
            _listed_etags(self.request, header)

        def check(instance: models.Model) -> None:
            check_preconditions(self.request, etag_of(self.representation(instance)))

        return check

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.representation(self.get_object())
        etag = etag_of(data)
        if (not_modified := check_preconditions(request, etag)) is not None:
            # DRF's stubs type a handler's answer as a Response; dispatch takes any response.
            return cast(Response, not_modified)
        return Response(data, headers={"ETag": etag})

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if (
            isinstance(response, Response)
            and getattr(self, "action", None) in self.etag_actions
            and 200 <= response.status_code < 300
            and isinstance(response.data, Mapping)
            and "ETag" not in response
        ):
            response["ETag"] = etag_of(response.data)
        return super().finalize_response(request, response, *args, **kwargs)
