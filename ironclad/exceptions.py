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


class PreconditionFailed(APIError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "The resource has changed since the version in If-Match (or exists, for If-None-Match: *). "
        "Read it again, then retry with its new ETag."
    )
    default_code = "precondition_failed"


class IdempotencyKeyInUse(APIError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still running. Retry when it has finished."
    default_code = "idempotency_key_in_use"
    wait = 1  # seconds: DRF's handler sends it as Retry-After


class IdempotencyKeyReused(APIError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was used for a different request (another route, body or If-Match). "
        "Use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class CursorExpired(APIError):
    status_code = status.HTTP_410_GONE
    default_detail = (
        "This cursor is older than the deletions the server keeps, or not one this feed gave. "
        "Sync again from the start: ask without a cursor."
    )
    default_code = "cursor_expired"


class NotFoundAmongYours(APIError):
    """Some of the objects a request names are not the user's (or do not exist: the same to them)."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"

    def __init__(self, what: str, missing_ids: list[int]) -> None:
        listed = ", ".join(map(str, missing_ids[:10])) + (", ..." if len(missing_ids) > 10 else "")
        super().__init__(f"No {what} with these ids among yours: {listed}. Nothing was changed.")
        self.details = {"missing_ids": missing_ids}


class QuotaExceeded(APIError):
    """The user keeps as many of something as one account may (settings.QUOTAS): deleting some
    makes room."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "quota_exceeded"

    def __init__(self, resource: str, limit: int, *, message: str = "", wait: int | None = None) -> None:
        super().__init__(
            message or f"You have reached the limit of {limit} {resource}. Delete some to make room."
        )
        self.details = {"resource": resource, "limit": limit}
        self.wait = wait  # when room comes back by itself: DRF's handler sends it as Retry-After


class IdempotencyAnswerTooLarge(APIError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_answer_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"The answer to this request ({size} bytes) is larger than an Idempotency-Key's answer "
            f"may be ({limit} bytes): nothing was changed. Send it without the key, or in smaller "
            "parts (fewer ids)."
        )
        self.details = {"answer_bytes": size, "max_bytes": limit}


class DatabaseTimeout(APIError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The database took longer than this request may take. Try again, or ask for less "
        "(a narrower filter, a smaller page)."
    )
    default_code = "database_timeout"


class DatabaseBusy(APIError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database was busy with conflicting changes to the same data. Try again."
    default_code = "database_busy"
    wait = 1  # seconds: DRF's handler sends it as Retry-After
