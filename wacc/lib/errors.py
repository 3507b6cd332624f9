"""Typed domain errors. Services raise these; the HTTP layer maps them, in one place,
to the seed's error format, and the CLI prints their message."""

from __future__ import annotations

from typing import Any


class WaccError(Exception):
    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationError(WaccError):
    status = 400
    code = "VALIDATION_ERROR"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationError:
        return cls("Invalid input", [{"field": field, "message": message}])


class AuthenticationError(WaccError):
    status = 401
    code = "AUTHENTICATION_ERROR"


class AuthorizationError(WaccError):
    status = 403
    code = "AUTHORIZATION_ERROR"


class NotFoundError(WaccError):
    status = 404
    code = "NOT_FOUND"


class ConflictError(WaccError):
    status = 409
    code = "CONFLICT"


class RateLimitError(WaccError):
    status = 429
    code = "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(WaccError):
    status = 503
    code = "SERVICE_UNAVAILABLE"


class UnsupportedMediaTypeError(WaccError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
