"""Hand-written SQL for the few queries every request runs, read back into models or records.

The ORM compiles a query anew on every call, which for these cost more than running them
(docs/performance.md#where-the-orm-is-bypassed). Rows go through the ORM's own converters, and
column lists come from the models, so a renamed column cannot drift silently.
"""

import json
from collections import namedtuple
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Protocol, cast

import orjson
from django.db import connection, models
from django.db.models.expressions import Col


@cache
def columns(model: type[models.Model], alias: str) -> str:
    """The model's columns, table-qualified, for a SELECT list (in concrete field order); made once
    per model and alias, as hand-written queries on a hot path ask for it on every call."""
    quote = connection.ops.quote_name
    # A concrete field always has a column (only relations and the like have none).
    return ", ".join(
        f"{quote(alias)}.{quote(cast(str, field.column))}" for field in model._meta.concrete_fields
    )


@cache
def _readers(model: type[models.Model], vendor: str) -> tuple[list[str], list[tuple[int, Col, list]]]:
    """Attribute names, and the columns that need converting on a database backend (position,
    expression, converters): on PostgreSQL only JSON columns do."""
    names, converters = [], []
    for position, field in enumerate(model._meta.concrete_fields):
        names.append(field.attname)
        expression = Col(model._meta.db_table, field)
        field_converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        if isinstance(field, models.JSONField) and field.decoder is None:
            field_converters = [_json_value if c == field.from_db_value else c for c in field_converters]
        if field_converters:
            converters.append((position, expression, field_converters))
    return names, converters


def _json_value(value: Any, expression: Col, connection: Any) -> Any:
    """JSONField.from_db_value, parsed by orjson: a list's tags in a tenth of the time of json.loads
    (docs/performance.md). What orjson does not take (an integer past 64 bits) json.loads does,
    and text that is not JSON stays as it is, as Django leaves it."""
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value


def _converted(model: type[models.Model], values: Sequence) -> list:
    converted = list(values)
    for position, expression, field_converters in _readers(model, connection.vendor)[1]:
        for converter in field_converters:
            converted[position] = converter(converted[position], expression, connection)
    return converted


def read(model: type[models.Model], values: Sequence) -> models.Model:
    """A model instance from its columns' raw values (as listed by `columns`)."""
    return model.from_db(connection.alias, _readers(model, connection.vendor)[0], _converted(model, values))


class RecordType(Protocol):
    """What `row_type` makes: a namedtuple class, its fields the model's attribute names."""

    _fields: tuple[str, ...]

    def _make(self, iterable: Iterable[Any], /) -> tuple[Any, ...]: ...


@cache
def row_type(model: type[models.Model]) -> RecordType:
    """A read-only record with the model's attribute names, for rows that are only displayed."""
    # mypy takes a namedtuple whose field names are known only at run time for a plain tuple.
    return namedtuple(  # type: ignore[return-value]
        f"{model.__name__}Row", [field.attname for field in model._meta.concrete_fields]
    )


def fetch(sql: str, params: Sequence, *shape: type[models.Model] | int, records: bool = False) -> list[list]:
    """Rows of `sql`, each cut into instances of the given models, in order; an int in `shape`
    takes that many plain columns as they are. With `records`, models come back as read-only
    records (`row_type`) instead of instances: a fifth of the cost, for rows only displayed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = []
    for row in rows:
        start, parts = 0, []
        for part in shape:
            width = part if isinstance(part, int) else len(part._meta.concrete_fields)
            values = row[start : start + width]
            if isinstance(part, int):
                parts.append(values)
            elif records:
                parts.append(row_type(part)._make(_converted(part, values)))
            else:
                parts.append(read(part, values))
            start += width
        result.append(parts)
    return result
