"""The API's envelopes and pagination: {"data", "meta"} for success, {"error"} for failure.

Imported by REST framework's settings, so nothing here may import rest_framework.views.
"""

import copy
import math
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Count, QuerySet, Window
from rest_framework import exceptions, negotiation, pagination, parsers, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


# DRF's ModelSerializer, except that it builds its fields from the model once per class instead
# of once per instance (0.6 ms for a task, on every create and update); each instance still gets
# its own deep copy, as DRF gives it of declared fields. (A comment, not a docstring: the OpenAPI
# schema would give it to every serializer below as its description.)
class ModelSerializer(serializers.ModelSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        template = type(self).__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()  # depends on the class only, never on the instance
            type(self)._fields_template = template
        return copy.deepcopy(template)


class SingleRendererNegotiation(negotiation.DefaultContentNegotiation):
    """A view with one renderer (every API view: JSON) answers with it without parsing `Accept`.
    Views with several (the OpenAPI schema: YAML or JSON) negotiate as usual."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None):
        if len(renderers) == 1:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps successful responses as {"data": ..., "meta": {...}}; errors pass through as built."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if data is not None and response is not None and not response.exception:
            data = {"data": data, "meta": getattr(response, "envelope_meta", {})}
        return super().render(data, accepted_media_type, renderer_context)


class JSONParser(parsers.JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes. DRF reads the body as a stream, which
    skips the check Django makes in `request.body`; the same error is raised here (answered 413)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        meta = parser_context["request"].META
        # Read as DRF does: it calls a parser only for a valid, non-zero length, which also bounds
        # what the stream yields.
        length = int(meta.get("CONTENT_LENGTH", meta.get("HTTP_CONTENT_LENGTH", 0)))
        if limit is not None and length > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return super().parse(stream, media_type, parser_context)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` and `page_size` (1-100, default 20); totals go to the envelope's meta."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_page_number(self, request: Request, paginator=None) -> int:
        raw = request.query_params.get(self.page_query_param, "1")
        if not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError({"page": ["Must be a whole number from 1."]})
        return int(raw)

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        """The page and the total in one query: COUNT(*) OVER () rides along with the rows."""

        def fetch_page(offset: int, limit: int) -> tuple[list, int]:
            rows = list(queryset.annotate(pagination_total=Window(Count("*")))[offset : offset + limit])
            return rows, rows[0].pagination_total if rows else 0

        return self.paginate(request, fetch_page)

    def paginate(self, request: Request, fetch_page: Callable[[int, int], tuple[list, int]]) -> list:
        """The requested page from `fetch_page(offset, limit) -> (rows, total)`; sets the meta."""
        page_size = self.get_page_size(request)
        number = self.get_page_number(request)
        rows, total = fetch_page((number - 1) * page_size, page_size)
        if not rows and number > 1:
            raise exceptions.NotFound(f"Page {number} is past the last page.")
        self.meta = {
            "page": number,
            "page_size": page_size,
            "total": total,
            "pages": math.ceil(total / page_size),
        }
        return rows

    def get_paginated_response(self, data) -> Response:
        response = Response(data)
        response.envelope_meta = self.meta
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": schema,
                "meta": {
                    "type": "object",
                    "required": ["page", "page_size", "total", "pages"],
                    "properties": {
                        "page": {"type": "integer", "example": 1},
                        "page_size": {"type": "integer", "example": 20},
                        "total": {"type": "integer", "example": 42},
                        "pages": {"type": "integer", "example": 3},
                    },
                },
            },
        }
