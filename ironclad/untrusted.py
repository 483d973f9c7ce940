"""Where untrusted input meets the database, Python's limits and the logs.

A client controls the path, the query string, the cookies, the Authorization header and the body.
Before any of it reaches PostgreSQL or Python's own limits, what neither can take is refused here:

- text with NUL characters (PostgreSQL cannot store them) or lone surrogates (not encodable);
- digits that are not ASCII ("²" passes `str.isdigit()` and then fails `int()`);
- integers beyond 64 bits (PostgreSQL's bigint) and floats beyond a double;
- JSON nested deeper than MAX_JSON_DEPTH (Python's parser would raise RecursionError).

`request_problem` checks the path, query string and cookies of every request (called by
ironclad.middleware.UntrustedInputMiddleware); the API's
JSON parser (ironclad.parsers.JSONParser) checks bodies with `parse_json`; the fields and the
authentication call the predicates below. Dates beyond year 9999 are refused by the date fields.
"""

import itertools
import json
import math
import re
from typing import Any

from django.http import HttpRequest

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Deeper than any body the API accepts (a task is two levels deep), far below Python's limits.
MAX_JSON_DEPTH = 32
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")
_ASCII_INTEGER = re.compile(r"-?[0-9]+")
# Credentials (session tokens, key ids, user ids) are short runs of printable ASCII.
_PLAIN_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")


# How much of a value a client sent an error message or a log line quotes.
QUOTED_PREFIX = 40


def clip(value: object, limit: int = QUOTED_PREFIX) -> str:
    """At most `limit` characters of `value` as text, "…" marking a cut: what an error quotes of
    a client's input, so that no answer or log line grows with what was sent."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# What validation details list: as many problems per level, each key and message clipped, so that
# an answer stays small whatever a body holds (10,000 bad tags, an unknown field's 1 MB name).
DETAILS_PER_LEVEL = 20
DETAIL_KEY_LENGTH = 60
DETAIL_MESSAGE_LENGTH = 200


def bounded(details: Any) -> Any:
    """Validation details with at most DETAILS_PER_LEVEL entries per object or list, and their
    keys and messages clipped (`clip`)."""
    if isinstance(details, dict):
        entries = itertools.islice(details.items(), DETAILS_PER_LEVEL)
        return {clip(key, DETAIL_KEY_LENGTH): bounded(value) for key, value in entries}
    if isinstance(details, list):
        return [bounded(value) for value in details[:DETAILS_PER_LEVEL]]
    if isinstance(details, str):
        return clip(details, DETAIL_MESSAGE_LENGTH)
    return details


class UntrustedInputError(ValueError):
    """Input that may not go further; the message says why, for the client."""


def unsafe_text_reason(text: str) -> str | None:
    """Why `text` cannot be stored or encoded, or None when it can."""
    found = _UNSAFE_TEXT.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which is not accepted"
    return "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"


def ascii_integer(text: str, low: int = BIGINT_MIN, high: int = BIGINT_MAX) -> int | None:
    """`text` as an integer from `low` to `high` written in ASCII digits, else None.

    The length is checked first: int() of a long digit string is slow, and refused beyond 4300
    digits with a message about sys.set_int_max_str_digits."""
    if len(text) > 24 or not _ASCII_INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def whole_number(data: object, low: int = BIGINT_MIN, high: int = BIGINT_MAX) -> int | None:
    """A JSON or query-string value as an integer from `low` to `high`, else None: an int (not a
    bool), a float with nothing after the point (JSON Schema counts 1.0 as an integer), or ASCII
    digits. 1.5 is None, where int() would cut it to 1."""
    if isinstance(data, bool):
        return None
    if isinstance(data, float):
        data = int(data) if data.is_integer() else None
    if isinstance(data, str):
        return ascii_integer(data, low, high)
    if isinstance(data, int):
        return data if low <= data <= high else None
    return None


def is_plain_token(text: str) -> bool:
    """A credential part (token, key id, user id): printable ASCII, no spaces, at most 512 long."""
    return _PLAIN_TOKEN.fullmatch(text) is not None


# --- JSON bodies ---------------------------------------------------------------


def _parse_int(digits: str) -> int:
    value = ascii_integer(digits)
    if value is None:
        raise UntrustedInputError("holds an integer beyond the 64-bit range")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UntrustedInputError("holds a number too large to represent")
    return value


def _parse_constant(name: str) -> float:
    raise UntrustedInputError(f"holds {name}, which is not a JSON number")


def parse_json(raw: bytes, encoding: str = "utf-8", *, what: str = "body") -> object:
    """The JSON document in `raw`, checked; UntrustedInputError with a message for the client
    that names `what` ("The body holds ...")."""
    try:
        return _checked_json(raw, encoding)
    except UntrustedInputError as error:
        raise UntrustedInputError(f"The {what} {error}.") from None


def _checked_json(raw: bytes, encoding: str) -> object:
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise UntrustedInputError(f"is not valid {encoding} text") from None
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except json.JSONDecodeError as error:
        raise UntrustedInputError(
            f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise UntrustedInputError(TOO_DEEP) from None
    check_json(value)
    return value


TOO_DEEP = f"nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"


def check_json(value: object) -> None:
    """Refuse nesting beyond MAX_JSON_DEPTH and text (keys included) that cannot be stored; the
    error's message says what the document does ("holds a text that ...")."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if reason := unsafe_text_reason(item):
                raise UntrustedInputError(f"holds a text that {reason}")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise UntrustedInputError(TOO_DEEP)
        children = list(item.values()) + list(item) if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)


# --- Path, query string and cookies ------------------------------------------------


def request_problem(request: HttpRequest) -> tuple[str, str] | None:
    """(where, why) for the first part of the request's path, query string or cookies that may
    not reach a view, or None."""
    if reason := unsafe_text_reason(request.path):
        return "path", f"The path {reason}."
    for name, values in request.GET.lists():
        if reason := unsafe_text_reason(name):
            return "query", f"A query parameter's name {reason}."
        for value in values:
            if reason := unsafe_text_reason(value):
                return name, f"The value {reason}."
    for name, value in request.COOKIES.items():
        if reason := unsafe_text_reason(name) or unsafe_text_reason(value):
            return "cookies", f"A cookie {reason}."
    return None
