"""The API's envelopes: {"data", "meta"} for success, {"error": {"code", "message", "details"}} for
failure; and canonical JSON, what ETags and Idempotency-Key fingerprints digest.

Imported by REST framework's settings, so nothing here may import rest_framework.views.
"""

import json
from typing import Any

import orjson
from django.http import JsonResponse
from rest_framework import negotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder


class SingleRendererNegotiation(negotiation.DefaultContentNegotiation):
    """A view with one renderer (every API view: JSON) answers with it without parsing `Accept`.
    Views with several (the OpenAPI schema: YAML or JSON) negotiate as usual."""

    # DRF passes the view's list of renderers; the stubs allow any iterable.
    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None):  # type: ignore[override]
        if len(renderers) == 1:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class EnvelopeResponse(Response):
    """A response whose envelope's meta holds more than nothing (EnvelopeJSONRenderer)."""

    def __init__(self, data: Any = None, *, meta: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.envelope_meta = meta


# What orjson writes as REST framework's JSONRenderer does: keys that are not strings as strings,
# and dates, times and dataclasses handed to REST framework's encoder (which writes milliseconds,
# not microseconds, and knows lazy strings, decimals and durations, as orjson does not).
ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# U+2028 and U+2029 in UTF-8, which REST framework escapes: they end a line in JavaScript.
LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps successful responses as {"data": ..., "meta": {...}}; errors pass through as built.

    The bytes are REST framework's JSONRenderer's (compact, UTF-8), written by orjson: a list of
    20 tasks in a fifth of the time (docs/performance.md)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if data is not None and response is not None and not response.exception:
            data = {"data": data, "meta": getattr(response, "envelope_meta", {})}
        if data is None or accepted_media_type not in (None, self.media_type):
            return super().render(data, accepted_media_type, renderer_context)  # e.g. indent=4
        try:
            body = orjson.dumps(data, default=DRFJSONEncoder().default, option=ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # an integer past 64 bits, say: what REST framework makes of it
            return super().render(data, accepted_media_type, renderer_context)
        for separator, escaped in LINE_SEPARATORS:
            if separator in body:
                body = body.replace(separator, escaped)
        return body


def canonical_json(value: Any) -> bytes:
    """`value` as JSON with sorted keys and no spaces: the same data always gives the same bytes
    (what ETags and Idempotency-Key fingerprints digest)."""
    return json.dumps(
        value, cls=DRFJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    """The error envelope where no DRF view answers: middleware and Django's error handlers."""
    return JsonResponse(error_body(code, message, details), status=status)
