"""The API's own exceptions, each with its status and code. Apps raise them; ironclad/errors.py
answers them in the error envelope. Nothing here imports an app, so every app may import it."""

from rest_framework import exceptions, status


class APIError(exceptions.APIException):
    """An API exception that may carry `details` for the client: the envelope's "details"."""

    details: dict[str, object] | None = None


class DatabaseUnavailable(APIError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable. Try again shortly."
    default_code = "database_unavailable"


class Conflict(APIError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data. Reload and try again."
    default_code = "conflict"


class PayloadTooLarge(APIError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"

    @classmethod
    def over(cls, limit: int) -> "PayloadTooLarge":
        """For a body beyond DATA_UPLOAD_MAX_MEMORY_SIZE (`limit`), which `details` gives."""
        error = cls(f"The request body is larger than {limit} bytes.")
        error.details = {"max_bytes": limit}
        return error


class AssistantUnavailableError(APIError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The assistant is unavailable. Your message was saved; try again shortly."
    default_code = "assistant_unavailable"


class AssistantTimeoutError(APIError):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The assistant took too long to answer. Your message was saved; try again."
    default_code = "assistant_timeout"
