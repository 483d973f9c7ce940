"""drf-spectacular: describe responses as the envelopes actually sent (DESIGN §4)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "validation_error"},
                "message": {"type": "string", "example": "The request is invalid."},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Per-field messages for validation errors, else empty.",
                    "example": {"title": ["This field may not be blank."]},
                },
            },
        }
    },
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input or query parameters (`validation_error`, `parse_error`).",
    "401": "No credential, or an invalid or expired one (`not_authenticated`, `invalid_token`, "
    "`session_expired`).",
    "403": "Cookie write from an untrusted origin, or another user's id in the path.",
    "404": "No such object among the signed-in user's.",
    "409": "The write conflicts with a concurrent one (`conflict`).",
    "413": "The body is larger than MAX_REQUEST_BODY_BYTES (`payload_too_large`).",
    "415": "The body is not JSON (`unsupported_media_type`).",
    "429": "Too many requests (`throttled`); `Retry-After` says how many seconds to wait.",
    "502": "The chat assistant's provider failed (`assistant_unavailable`); your message was kept.",
    "503": "The database is unavailable (`database_unavailable`).",
    "504": "The chat assistant's provider timed out (`assistant_timeout`); your message was kept.",
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds until the next request is allowed.",
        "schema": {"type": "integer"},
    }
}


def canonical_paths(endpoints: list[tuple], **kwargs) -> list[tuple]:
    """Document each route once, without the optional trailing slash. The compatibility
    prefix /api/{user_id}/... serves the same operations and is described in the README."""
    return [
        (path.rstrip("/") or "/", regex, method, view)
        for path, regex, method, view in endpoints
        if "{user_id}" not in path
    ]


class EnvelopeAutoSchema(AutoSchema):
    """Success bodies inside {"data", "meta"}; the {"error"} envelope for every error status;
    operations tagged by the app that serves them; numeric ids as integers."""

    def get_tags(self) -> list[str]:
        return [self.view.__module__.split(".")[0]]

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["schema"].get("pattern") == r"^\d+$":
                parameter["schema"] = {"type": "integer"}
        return parameters

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
                        "properties": {"data": media["schema"], "meta": {"type": "object"}},
                    }
        for code in self._error_codes():
            responses.setdefault(code, {"content": {"application/json": {"schema": self._error_ref()}}})
            responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        responses["429"]["headers"] = RETRY_AFTER_HEADER
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["401", "403", "429", "503"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["400", "409", "413", "415"]
        elif self.method == "GET" and self._is_list_view():
            codes.append("400")
        if "{" in self.path:
            codes.append("404")
        # A view may answer more: e.g. the chat view's 502 and 504 (`error_statuses = [...]`).
        codes += getattr(self.view, "error_statuses", [])
        return sorted(codes)

    def _error_ref(self) -> dict:
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="ErrorEnvelope", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        return component.ref
