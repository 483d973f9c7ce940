"""The API's envelopes and pagination: {"data", "meta"} for success, {"error"} for failure.

Imported by REST framework's settings, so nothing here may import rest_framework.views.
"""

import copy
import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import models
from django.http import JsonResponse
from rest_framework import exceptions, negotiation, pagination, parsers, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from ironclad.untrusted import (
    BIGINT_MAX,
    BIGINT_MIN,
    UntrustedInputError,
    ascii_integer,
    parse_json,
    whole_number,
)

if TYPE_CHECKING:  # for the type checker only: see the module's docstring
    from rest_framework.views import APIView

    _ViewMixinBase = APIView
else:
    _ViewMixinBase = object

# The path pattern of a numeric object id.
OBJECT_ID = "[0-9]+"


# The serializers below are commented, not docstringed: the OpenAPI schema would give a docstring
# to every serializer built on them as its description.


# What a body may hold is what its OpenAPI schema says: DRF would take 5 for a string ("5"), "yes"
# or 1 for a boolean and "5" for an integer, none of which the schema allows. Checked before
# DRF's own validation, per field class (a subclass inherits its base's rule); null is left to
# the field's allow_null.
JSON_TYPES: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "Must be true or false."),
    (serializers.IntegerField, (int, float), "Must be a whole number."),
    (serializers.PrimaryKeyRelatedField, (int, float), "Must be a whole number."),
    (serializers.CharField, (str,), "Must be a string."),
    (serializers.ChoiceField, (str,), "Must be a string."),
    (serializers.DateTimeField, (str,), "Must be a string."),
    (serializers.ListField, (list,), "Must be a list."),
    (serializers.DictField, (dict,), "Must be an object."),
]


def json_type_error(field: serializers.Field, value: object) -> str | None:
    """Why `value` does not have the JSON type `field` takes (a list: also its items), or None."""
    if value is None:
        return None
    for field_class, types, message in JSON_TYPES:
        if isinstance(field, field_class):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return message
            break
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next(filter(None, (json_type_error(field.child, item) for item in value)), None)
    return None


def body_errors(fields: Mapping[str, serializers.Field], data: Mapping) -> dict[str, list[str]]:
    """Per-field messages for the names `fields` does not have or cannot write, and for the values
    of the wrong type."""
    errors = {str(name): ["Unknown field."] for name in data.keys() - fields.keys()}
    for name, field in fields.items():
        if name not in data:
            continue
        if field.read_only:
            errors[name] = ["This field is read-only."]
        elif message := json_type_error(field, data[name]):
            errors[name] = [message]
    return dict(sorted(errors.items()))


# A body field the serializer does not have, or may not be written, is a 400 that names it, as an
# unknown query parameter is (StrictQueryParams): a typo ("titel") must not be dropped silently,
# nor `user_id` look as if it had been taken.
class StrictBody:
    def to_internal_value(self, data):
        if isinstance(data, Mapping) and (errors := body_errors(self.fields, data)):
            raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


class Serializer(StrictBody, serializers.Serializer):
    pass


# DRF's ModelSerializer, with a strict body, and building its fields from the model once per
# class instead of once per instance (0.6 ms for a task, on every create and update); each
# instance still gets its own deep copy, as DRF gives it of declared fields.
class ModelSerializer(StrictBody, serializers.ModelSerializer):
    _fields_template: ClassVar[dict[str, serializers.Field]]  # set on each class by get_fields

    def get_fields(self) -> dict[str, serializers.Field]:
        template = type(self).__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()  # depends on the class only, never on the instance
            type(self)._fields_template = template
        return copy.deepcopy(template)


class IntegerField(serializers.IntegerField):
    """DRF's IntegerField, strict: whole numbers in ASCII digits only (DRF's reads "٣" as 3 and
    1.5 as 1), within PostgreSQL's bigint unless narrower bounds are given."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", BIGINT_MIN)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> int:
        value = whole_number(data)
        if value is None:
            self.fail("invalid")
        return value


class QueryBooleanField(serializers.BooleanField):
    """A query parameter that is `true` or `false` (any case), as its schema says; DRF would also
    take 1, yes, on and their opposites. (The chat's tools pass JSON booleans.)"""

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        text = data.strip().lower() if isinstance(data, str) else None
        if text not in ("true", "false"):
            self.fail("invalid", input=data)
        return text == "true"


class StrictQueryParams(_ViewMixinBase):
    """A view mixin: query parameters the action does not take are a 400 that names them, so that
    a typo (`priorty=high`) never looks like a working filter. An action takes `page` and
    `page_size` when it is listed in `paginated_actions`, and the names in `query_params[action]`."""

    paginated_actions: tuple[str, ...] = ()
    query_params: dict[str, tuple[str, ...]] = {}

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not hasattr(self, (request.method or "").lower()):
            return  # a method the view does not take: its 405 comes next
        if unknown := request.query_params.keys() - self.query_param_names():
            message = "Unknown query parameter."
            raise exceptions.ValidationError({name: [message] for name in sorted(unknown)})

    def query_param_names(self) -> set[str]:
        action = getattr(self, "action", None)
        names = set(self.query_params.get(action, ())) if action is not None else set()
        if action in self.paginated_actions:
            names |= PAGING_PARAMS
        return names


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


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps successful responses as {"data": ..., "meta": {...}}; errors pass through as built."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if data is not None and response is not None and not response.exception:
            data = {"data": data, "meta": getattr(response, "envelope_meta", {})}
        return super().render(data, accepted_media_type, renderer_context)


class JSONParser(parsers.JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes, checked by ironclad.untrusted (depth,
    NUL characters, 64-bit integers) and refused with a 400 that names the problem in plain words.
    DRF reads the body as a stream, which skips the size check Django makes in `request.body`;
    the same error is raised here (answered 413)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        meta = parser_context["request"].META
        # Read as DRF does: it calls a parser only for a valid, non-zero length, which also bounds
        # what the stream yields.
        length = int(meta.get("CONTENT_LENGTH", meta.get("HTTP_CONTENT_LENGTH", 0)))
        if limit is not None and length > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        try:
            return parse_json(stream.read(), parsers.get_encoding(parser_context))
        except UntrustedInputError as error:
            raise exceptions.ParseError(str(error)) from None


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


class CountOf(models.Subquery):
    """How many rows a queryset has, as a column of another query. Every list counts this way:
    unlike COUNT(*) OVER (), which reads every matching row in full, PostgreSQL counts the
    subquery once, from the index alone where it can, and then reads only the page's rows."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) counted)"
    output_field = models.IntegerField()


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` (1 up to the last page; past it, 404) and `page_size` (1-100, default 20); totals
    go to the envelope's meta."""

    page_size: int  # PAGE_SIZE, which the settings set
    page_size_query_param = "page_size"
    max_page_size = 100
    # Far beyond any real list, and small enough that the offset stays within PostgreSQL's bigint.
    max_page = 2**31 - 1

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = ascii_integer(raw, 1, self.max_page_size)
        if size is None:
            raise exceptions.ValidationError(
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def get_page_number(self, request: Request, paginator=None) -> int:
        number = ascii_integer(request.query_params.get(self.page_query_param, "1"), 1, self.max_page)
        if number is None:
            raise exceptions.ValidationError({"page": [f"Must be a whole number from 1 to {self.max_page}."]})
        return number

    def get_schema_operation_parameters(self, view) -> list[dict]:
        bounds = {
            self.page_query_param: {"minimum": 1, "maximum": self.max_page, "default": 1},
            self.page_size_query_param: {
                "minimum": 1,
                "maximum": self.max_page_size,
                "default": self.page_size,
            },
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters

    # Views paginate querysets only; DRF's base class would also take a list.
    def paginate_queryset(self, queryset: models.QuerySet, request: Request, view=None) -> list:  # type: ignore[override]
        """The page and the total in one query, counted as every list counts (`CountOf`)."""

        def fetch_page(offset: int, limit: int) -> tuple[list, int]:
            counted = queryset.annotate(pagination_total=CountOf(queryset.order_by().values("pk")))
            rows = list(counted[offset : offset + limit])
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
        return EnvelopeResponse(data, meta=self.meta)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["data", "meta"],
            "additionalProperties": False,
            "properties": {
                "data": schema,
                "meta": {
                    "type": "object",
                    "required": ["page", "page_size", "total", "pages"],
                    "additionalProperties": False,
                    "properties": {
                        "page": {"type": "integer", "example": 1},
                        "page_size": {"type": "integer", "example": 20},
                        "total": {"type": "integer", "example": 42},
                        "pages": {"type": "integer", "example": 3},
                    },
                },
            },
        }


# The query parameters of every paginated list, whatever else it takes.
PAGING_PARAMS = frozenset({PageNumberPagination.page_query_param, PageNumberPagination.page_size_query_param})
