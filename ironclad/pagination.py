"""Pagination: `page` and `page_size`, the total in the envelope's meta, counted in the page's query.

Imported by REST framework's settings, so nothing here may import rest_framework.views.
"""

import math
from collections.abc import Callable

from django.db import models
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.response import Response

from ironclad.envelopes import EnvelopeResponse
from ironclad.untrusted import ascii_integer


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
