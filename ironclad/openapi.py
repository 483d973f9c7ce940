"""drf-spectacular: describe requests and responses exactly as the server takes and sends them."""

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, ResolvedComponent, build_choice_description_list
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from ironclad.conditional import CONDITION_PATTERN, ConditionalObjects
from ironclad.views import OBJECT_ID

# Every error status an operation may answer: what it means, and the `error.code`s it carries.
ERRORS = {
    "400": (
        "Invalid input: a body, path or query parameter that the operation does not take, or a "
        "value it does not accept; `details` names each one.",
        ["validation_error", "parse_error", "invalid_transfer_encoding", "malformed_body", "bad_request"],
    ),
    "401": (
        "No credential, or an invalid or expired one.",
        ["not_authenticated", "invalid_token", "session_expired"],
    ),
    "403": (
        "A cookie-authenticated write from an untrusted origin, or another user's id in the path.",
        ["permission_denied", "untrusted_origin"],
    ),
    "404": ("No such object among the signed-in user's, or a page past the last one.", ["not_found"]),
    "409": (
        "The write conflicts with the data: a category of that name exists already (`details.name`), "
        "or a concurrent write got there first; or the first request with this Idempotency-Key is "
        "still running (`Retry-After`); or the account keeps as many of something as it may "
        "(`details.resource`, `details.limit`; for kept Idempotency-Key answers, `Retry-After`).",
        ["conflict", "idempotency_key_in_use", "quota_exceeded"],
    ),
    "410": (
        "The cursor is older than the deletions the server keeps, another user's, or beyond any "
        "change: sync again without a cursor.",
        ["cursor_expired"],
    ),
    "411": ("A chunked body the server in use cannot read: send a Content-Length.", ["length_required"]),
    "412": (
        "If-Match names a version that is no longer current (or If-None-Match matches): read the "
        "object again.",
        ["precondition_failed"],
    ),
    "413": ("The body is larger than MAX_REQUEST_BODY_BYTES.", ["payload_too_large"]),
    "415": ("The body is not JSON.", ["unsupported_media_type"]),
    "422": (
        "This Idempotency-Key came with a different request (route, body or If-Match): use a new key; "
        "or the answer would be larger than a kept answer may be, and nothing was written "
        "(`details.answer_bytes`, `details.max_bytes`): send it without a key, or in smaller parts.",
        ["idempotency_key_reused", "idempotency_answer_too_large"],
    ),
    "429": ("Too many requests; `Retry-After` says how many seconds to wait.", ["throttled"]),
    "502": ("The chat assistant's provider failed; your message was kept.", ["assistant_unavailable"]),
    "503": (
        "The database, or the token signing keys, are unavailable for now; or a statement ran past "
        "the request's database deadline (DATABASE_STATEMENT_TIMEOUT); or conflicting writes kept "
        "the database busy (`Retry-After`).",
        ["database_unavailable", "jwks_unavailable", "database_timeout", "database_busy"],
    ),
    "504": ("The chat assistant's provider timed out; your message was kept.", ["assistant_timeout"]),
}


def error_schema(codes: list[str]) -> dict:
    """The {"error": {"code", "message", "details"}} envelope with `code` one of `codes`."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string", "example": "The request is invalid."},
                    "details": {
                        "type": "object",
                        "additionalProperties": True,
                        "description": "Per-field messages for invalid input; otherwise what the error "
                        "says about itself (e.g. the chat's `conversation_id`), or empty.",
                        "example": {"title": ["This field may not be blank."]},
                    },
                },
            }
        },
    }


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds until the next request is allowed.",
        "schema": {"type": "integer"},
    }
}
ETAG_HEADER = {
    "ETag": {
        "description": "The object's strong entity tag: send it in If-Match to write only over this "
        "version, or in If-None-Match to have a 304 while it is current.",
        "schema": {"type": "string", "example": '"3f2a0c1e9d8b7a6f5e4d3c2b1a098765"'},
    }
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the kept answer to an earlier request with the same "
        "Idempotency-Key: nothing ran again.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # Printable ASCII, bare (without a comma: two headers arrive joined by one) or as a Structured
    # Fields string; a header's own spaces around its value are not part of it.
    {
        "type": "string",
        "pattern": (
            '^("([\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\["\\\\]){1,255}"'
            "|[\\x21\\x23-\\x2b\\x2d-\\x7e]([\\x20-\\x2b\\x2d-\\x7e]{0,253}[\\x21-\\x2b\\x2d-\\x7e])?)$"
        ),
    },
    OpenApiParameter.HEADER,
    description="A unique value per request (e.g. a UUID), 1-255 printable ASCII characters, one "
    "header only. A retry with the same key and body gets the first answer again, with "
    "Idempotent-Replayed: true, for 24 hours. Another request with the key: 422; while the first "
    "runs: 409. An answer is kept up to IDEMPOTENCY_ANSWER_MAX_BYTES (larger: 422, nothing written), "
    "an account's answers up to IDEMPOTENCY_USER_MAX_BYTES (past it: 409 quota_exceeded).",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": CONDITION_PATTERN},
    OpenApiParameter.HEADER,
    description="ETags (or `*`): go on only if the object's current ETag is one of them; otherwise 412.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    {"type": "string", "pattern": CONDITION_PATTERN},
    OpenApiParameter.HEADER,
    description="ETags (or `*`): on GET, 304 if the current ETag is one of them; on a write, 412.",
)


def envelope_meta(**properties: dict) -> dict:
    """The schema of a success envelope's `meta` with these properties (a view's `response_meta`
    maps its actions to theirs)."""
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


def canonical_paths(endpoints: list[tuple], **kwargs) -> list[tuple]:
    """Document each route once, without the optional trailing slash. The compatibility
    prefix /api/{user_id}/... serves the same operations, for legacy front ends (docs/api.md)."""
    return [
        (path.rstrip("/") or "/", regex, method, view)
        for path, regex, method, view in endpoints
        if "{user_id}" not in path
    ]


def _character_class(codes: list[int]) -> str:
    """A regular expression's class of the characters `codes`, consecutive ones as ranges."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(f"\\u{low:04x}" + (f"-\\u{high:04x}" if high > low else "") for low, high in runs)


# Some character that str.strip() keeps, i.e. not whitespace in Python's sense (str.isspace), which
# counts more characters than the \s of the schema's regular expressions (\x1c-\x1f, \x85).
NOT_ONLY_WHITESPACE = f"[^{_character_class([code for code in range(0x10000) if chr(code).isspace()])}]"


def is_trimmed_non_blank(field: serializers.Field) -> bool:
    """A string field that refuses what is blank once trimmed, and has no pattern of its own."""
    if not isinstance(field, serializers.CharField) or field.allow_blank or not field.trim_whitespace:
        return False
    return not any(isinstance(validator, RegexValidator) for validator in field.validators)


class EnvelopeAutoSchema(AutoSchema):
    """Success bodies inside {"data", "meta"}; the {"error"} envelope for every error status;
    operations tagged by the app that serves them; numeric ids as integers."""

    def get_tags(self) -> list[str]:
        return [self.view.__module__.split(".")[0]]

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["schema"].get("pattern") == f"^{OBJECT_ID}$":
                parameter["schema"] = {"type": "integer"}
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if is_trimmed_non_blank(field) and not field.read_only and "pattern" not in schema:
            schema["pattern"] = NOT_ONLY_WHITESPACE
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        paginated_list = self._is_list_view() and self._get_paginator() is not None
        for code, response in responses.items():
            if code.startswith("2") and not paginated_list:
                for media in response.get("content", {}).values():
                    media["schema"] = {
                        "type": "object",
                        "required": ["data", "meta"],
                        "additionalProperties": False,
                        "properties": {"data": media["schema"], "meta": {"type": "object"}},
                    }
            if code.startswith("2"):
                meta = getattr(self.view, "response_meta", {}).get(getattr(self.view, "action", None))
                for media in response.get("content", {}).values():
                    if meta is not None:
                        media["schema"]["properties"]["meta"] = meta
                headers = {**(ETAG_HEADER if self._has_etag() else {})}
                headers |= REPLAYED_HEADER if self._is_idempotent() else {}
                if headers:
                    response["headers"] = headers
        if self._is_conditional() and self.method == "GET":
            responses["304"] = {
                "description": "Not modified: If-None-Match names the current ETag.",
                "headers": ETAG_HEADER,
            }
        for code in self._error_codes(paginated_list):
            description, error_codes = ERRORS[code]
            schema = self._error_ref(code, error_codes)
            responses[code] = {
                "content": {"application/json": {"schema": schema}},
                "description": description,
            }
        responses["429"]["headers"] = RETRY_AFTER_HEADER
        if self._is_idempotent():  # idempotency_key_in_use says when to retry
            responses["409"]["headers"] = RETRY_AFTER_HEADER
        return responses

    def _error_codes(self, paginated_list: bool) -> list[str]:
        # 400 everywhere: any operation refuses unknown query parameters (StrictQueryParams) and
        # NUL characters in the path, query string or cookies (UntrustedInputMiddleware).
        codes = ["400", "401", "403", "429", "503"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "411", "413", "415"]
        if "{" in self.path or paginated_list:
            codes.append("404")
        if self._is_conditional():
            codes.append("412")
        if self._is_idempotent():
            codes.append("422")
        # A view may answer more: e.g. the chat view's 502 and 504 (`error_statuses = [...]`), or
        # a viewset for one of its actions (`error_statuses = {"bulk": ["404"]}`).
        extra = getattr(self.view, "error_statuses", [])
        codes += extra.get(getattr(self.view, "action", None), []) if isinstance(extra, dict) else extra
        return sorted(set(codes))

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters.append(IDEMPOTENCY_KEY)
        if self._is_conditional():
            parameters += [IF_MATCH, IF_NONE_MATCH]
        return parameters

    def _handler(self):
        """The view's method that answers this operation (a viewset's action, or get, post...)."""
        return getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)

    def _is_idempotent(self) -> bool:
        """The operation honours Idempotency-Key (idempotency.decorators.idempotent)."""
        return getattr(self._handler(), "idempotent", False)

    def _has_etag(self) -> bool:
        action = getattr(self.view, "action", None)
        return isinstance(self.view, ConditionalObjects) and action in self.view.etag_actions

    def _is_conditional(self) -> bool:
        """An operation on one object that honours If-Match and If-None-Match."""
        action = getattr(self.view, "action", None)
        if not isinstance(self.view, ConditionalObjects) or "{" not in self.path:
            return False
        return action in (*self.view.etag_actions, "destroy")

    def _error_ref(self, status: str, codes: list[str]) -> dict:
        component = ResolvedComponent(
            name=f"Error{status}",
            type=ResolvedComponent.SCHEMA,
            object=f"Error{status}",
            schema=error_schema(codes),
        )
        self.registry.register_on_missing(component)
        return component.ref


def closed_objects(result: dict, **kwargs) -> dict:
    """Postprocessing hook: each serializer's object has exactly its properties. Bodies with any
    other are refused (ironclad.serializers.StrictBody), and responses never carry one."""
    for schema in result.get("components", {}).get("schemas", {}).values():
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    return result


# --- JSON Schema of a serializer, for the agents' tools ------------------------------------------

# OpenAPI 3.0 keywords that JSON Schema (2020-12, as MCP and OpenAI's tools take it) has not, or
# that only the API's documentation uses: read and write directions are given by `direction`.
_OPENAPI_ONLY = ("readOnly", "writeOnly", "nullable", "example")
# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SUBSCHEMA = ("items", "not", "additionalProperties")
_SUBSCHEMAS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")


def json_schema(serializer_class: type[serializers.Serializer], direction: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of what a serializer takes in a request (direction "request": its
    writable fields) or gives in a response ("response": its readable ones), as drf-spectacular
    describes its fields for the OpenAPI schema: the same types, limits, choices, formats and help
    texts. Built anew on each call: the caller keeps what it needs.

    drf-spectacular's own AutoSchema describes the fields, without this project's REST additions
    (EnvelopeAutoSchema's whitespace pattern: `minLength` says a value may not be blank). OpenAPI
    3.0's `nullable` becomes a "null" type, `example` becomes `examples`; `readOnly`, `writeOnly`
    and extensions (`x-...`) go, as does the list of choices drf-spectacular writes as a
    description (`enum` has them). A choice of schemas (`anyOf`) of which each has a type also says
    the types it allows, so that a check of types alone (agents.tools) needs no more."""
    if direction not in ("request", "response"):
        raise ValueError(f"direction: 'request' or 'response', not {direction!r}")
    inspector = AutoSchema()
    inspector.registry = ComponentRegistry()
    inspector.method = "POST" if direction == "request" else "GET"
    inspector.path = ""
    serializer = serializer_class(context={"request": None})  # described outside any request
    described = inspector._map_serializer(serializer, direction)
    components = inspector.registry.build({}).get("schemas", {})

    properties = {}
    for name, field in serializer.fields.items():
        left_out = field.read_only if direction == "request" else field.write_only
        if left_out or name not in described["properties"]:
            continue
        schema = _from_openapi(described["properties"][name], components)
        if isinstance(field, serializers.ChoiceField):
            _drop_choice_list(schema, build_choice_description_list(field.choices.items()))
        properties[name] = schema
    result: dict[str, Any] = {"type": "object", "properties": properties}
    required = [name for name in described.get("required", []) if name in properties]
    if required:
        result["required"] = required
    return result


def _drop_choice_list(schema: dict[str, Any], choices: str) -> None:
    description = schema.get("description", "")
    if description == choices:
        del schema["description"]
    elif description.endswith(f"\n\n{choices}"):
        schema["description"] = description.removesuffix(f"\n\n{choices}")


def _from_openapi(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema object as JSON Schema 2020-12, components inlined."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = {**components[name], **{key: value for key, value in schema.items() if key != "$ref"}}
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in _SUBSCHEMA and isinstance(value, dict):
            value = _from_openapi(value, components)
        elif key in _SUBSCHEMAS:
            value = [_from_openapi(item, components) for item in value]
        elif key in _SCHEMA_MAPS:
            value = {name: _from_openapi(item, components) for name, item in value.items()}
        converted[key] = value
    if "example" in schema:
        converted["examples"] = [schema["example"]]
    if schema.get("nullable"):
        converted = _nullable(converted)
    choices = converted.get("anyOf")
    if "type" not in converted and choices and all("type" in choice for choice in choices):
        types = [kind for choice in choices for kind in _types(choice)]
        converted = {"type": types[0] if len(set(types)) == 1 else list(dict.fromkeys(types)), **converted}
    return converted


def _types(schema: dict[str, Any]) -> list[str]:
    kinds = schema["type"]
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, or null."""
    if "type" in schema:
        schema["type"] = [*_types(schema), *([] if "null" in _types(schema) else ["null"])]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    for key in ("anyOf", "oneOf"):
        if key in schema:
            schema[key] = [*schema[key], {"type": "null"}]
            return schema
    return {"anyOf": [schema, {"type": "null"}]}
