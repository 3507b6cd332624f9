"""Every error, in one place, in the seed's format:
``{"error": {"code", "message", "details", "requestId", "timestamp"}}``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from wacc.db.outage import RETRY_AFTER_SECONDS, database_unavailable
from wacc.http.context import request_id
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import RateLimitError, ServiceUnavailableError, WaccError
from wacc.logs import get_logger

log = get_logger("wacc.http")

# Status codes the seed does not name get a code of the same style.
_CODES = {
    400: "VALIDATION_ERROR",
    401: "AUTHENTICATION_ERROR",
    403: "AUTHORIZATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
_MESSAGES = {
    401: "Authentication required",
    403: "You do not have permission to do this",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def error_body(
    scope: Any, status: int, message: str, details: list[dict[str, Any]] | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": code or _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR"),
            "message": message,
            "details": details or [],
            "requestId": request_id(scope),
            "timestamp": iso(utcnow()),
        }
    }


def _respond(
    request: Request, status: int, message: str, details: list[dict[str, Any]] | None = None,
    code: str | None = None, headers: dict[str, str] | None = None,
) -> Response[Any]:
    return Response(
        content=error_body(request.scope, status, message, details, code),
        status_code=status, headers=headers, media_type="application/json",
    )


def _validation_details(exc: ValidationException) -> list[dict[str, Any]]:
    details = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            field = item.get("key") or item.get("source") or "body"
            details.append({"field": str(field), "message": str(item.get("message", ""))})
    return details


def on_wacc_error(request: Request, exc: WaccError) -> Response[Any]:
    headers = None
    if isinstance(exc, RateLimitError):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, ServiceUnavailableError):
        # Every 503 says when to come back, as the OpenAPI document promises.
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return _respond(request, exc.status, exc.message, exc.details, exc.code, headers)


def on_http_exception(request: Request, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, ValidationException) or status == 400:
        details = _validation_details(exc) if isinstance(exc, ValidationException) else []
        message = exc.detail or "Invalid input"
        if "JSON" in message or "decode" in message.lower():
            message = "Malformed JSON body"
        return _respond(request, 400, message if details == [] else "Invalid input", details)
    if status >= 500:
        log.error("server error", status=status, detail=exc.detail)
        return _respond(request, status, _MESSAGES.get(status, "Internal error"))
    headers = dict(exc.headers or {})
    text = _MESSAGES.get(status) if status in (401, 403, 404, 405, 413) else exc.detail
    return _respond(request, status, text or _MESSAGES.get(status) or "Error", headers=headers)


def on_recursion(request: Request, exc: RecursionError) -> Response[Any]:
    # msgspec decodes nested JSON recursively: a body nested thousands of levels deep
    # exhausts the stack before any handler runs. No valid request is nested like that.
    log.warning("request too deeply nested", path=request.url.path, method=request.method)
    return _respond(request, 400, "Request body nested too deeply")


def on_unexpected(request: Request, exc: Exception) -> Response[Any]:
    if database_unavailable(exc):
        # An outage, not a bug: the client may retry, and no traceback is logged for
        # each request while the database is away.
        log.warning("database unavailable", path=request.url.path, method=request.method,
                    error=type(exc).__name__)
        return _respond(request, 503, "The database is unavailable; try again shortly",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    # Logged with the traceback and request id; the client sees neither the trace nor
    # the exception text, which could carry data.
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return _respond(request, 500, "Internal error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    WaccError: on_wacc_error,
    HTTPException: on_http_exception,
    RecursionError: on_recursion,
    Exception: on_unexpected,
}
