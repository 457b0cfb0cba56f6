"""One error base class; every domain error carries a stable `code` and maps to RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)

log = logging.getLogger("atp.errors")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """Base for errors a client can cause; subclasses set `status`, `code` and `title`."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.extra = extra


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "Validation failed"


class NotAuthenticated(AppError):
    status, code, title = 401, "not_authenticated", "Authentication required"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(AppError):
    status, code, title = 412, "version_mismatch", "The resource changed since you read it"


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", "Too many attempts"

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "status": status, "title": title, "detail": detail, "code": code}
    body.update(extra)
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=PROBLEM_JSON)


def _app_error(_: Request, exc: AppError) -> Response:
    response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(max(1, int(retry_after)))
    elif exc.status == 503:
        response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_S)
    return response


def _field_errors(extra: Any) -> list[dict[str, str]]:
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "body")
            errors.append({"field": key, "message": str(item.get("message", "invalid"))})
    return errors


def _validation(_: Request, exc: ValidationException) -> Response:
    errors = _field_errors(exc.extra)
    return problem(422, "validation_failed", "Validation failed", str(exc.detail), errors=errors)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("not_authenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def _http(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc.__cause__, SerializationException):
        return _undecodable_body(_, exc.__cause__)  # Litestar wraps malformed JSON in a 400
    if status >= 500:
        return _internal(_, exc)
    code, title = _HTTP_CODES.get(status, ("http_error", "Request failed"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else title
    response = problem(status, code, title, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _data_error(request: Request, exc: Exception) -> Response:
    # SQLSTATE class 22 (data exception): a value the client sent that PostgreSQL cannot store,
    # e.g. a NUL character in text. The client's fault, never a 500.
    log.info("rejected value on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(
        422,
        "validation_failed",
        "Validation failed",
        "a value in the request cannot be stored",
        errors=[{"field": "body", "message": "contains characters or values that are not allowed"}],
    )


# How long a client should wait before retrying while PostgreSQL or Redis is unreachable: restarts and
# failovers we have seen take a few seconds; the pools reconnect on the first request after that.
OUTAGE_RETRY_AFTER_S = 3

# PostgreSQL errors that mean "the server is not there (now)", never "your query is wrong":
# class 08 (connection), 57 (operator intervention: shutdown, cannot connect now), 53 (resources).
_PG_OUTAGE = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)
_REDIS_OUTAGE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def outage_of(exc: BaseException) -> str | None:
    """The dependency whose outage `exc` is ("postgresql", "redis"), None for any other error."""
    if isinstance(exc, _REDIS_OUTAGE):
        return "redis"
    if isinstance(exc, _PG_OUTAGE):
        return "postgresql"
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc).lower():
        return "postgresql"  # the connection died under the query ("connection is closed")
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # The server shut down between two protocol messages ("cannot switch to state 12").
        return "postgresql"
    if isinstance(exc, OSError):
        # Connecting to PostgreSQL (TCP or its unix socket) or timing out on a pool acquire.
        return "postgresql"
    return None


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"


def _unavailable(request: Request, exc: Exception) -> Response:
    dependency = outage_of(exc)
    if dependency is None:
        if isinstance(exc, asyncpg.InterfaceError):
            return _internal(request, exc)
        dependency = "postgresql"
    # One line, no traceback: during an outage every request would otherwise log thirty lines.
    log.warning(
        "%s unavailable on %s %s: %s: %s",
        dependency,
        request.method,
        request.url.path,
        type(exc).__name__,
        str(exc)[:200],
    )
    response = problem(
        503,
        "service_unavailable",
        "Service temporarily unavailable",
        "A service this request needs is not answering; retry shortly.",
    )
    response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_S)
    return response


# Where Litestar decodes what a client sent (`Request.json()`/`msgpack()`, DTOs, socket frames). The same
# error raised anywhere else (encoding a response, our own code) is ours, not the client's: still a 500.
_DECODERS = {
    ("litestar.serialization.msgspec_hooks", "decode_json"),
    ("litestar.serialization.msgspec_hooks", "decode_msgpack"),
}


def _raised_decoding_body(exc: BaseException) -> bool:
    if isinstance(exc, SerializationException):
        return True
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) in _DECODERS:
            return True
        tb = tb.tb_next
    return False


def _undecodable_body(request: Request, exc: Exception) -> Response:
    """Every body that cannot be decoded answers 400, whatever the decoder raised.

    msgspec raises DecodeError for malformed JSON (Litestar turns it into a 400 of its own),
    UnicodeDecodeError for invalid UTF-8 inside a string and RecursionError for deep nesting;
    the last two escape Litestar as 500s with a traceback each.
    """
    if not _raised_decoding_body(exc):
        return _internal(request, exc)
    log.info("undecodable body on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(400, "bad_request", "Bad request", "the request body cannot be decoded")


def _internal(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "Internal server error", "Something went wrong on our side.")


EXCEPTION_HANDLERS = {
    AppError: _app_error,
    ValidationException: _validation,
    NotAuthorizedException: _http,
    PermissionDeniedException: _http,
    NotFoundException: _http,
    HTTPException: _http,
    asyncpg.DataError: _data_error,
    **dict.fromkeys(
        (
            *_PG_OUTAGE,
            *_REDIS_OUTAGE,
            asyncpg.InterfaceError,
            asyncpg.exceptions.InternalClientError,
            OSError,
        ),
        _unavailable,
    ),
    SerializationException: _undecodable_body,
    msgspec.DecodeError: _undecodable_body,
    UnicodeDecodeError: _undecodable_body,
    RecursionError: _undecodable_body,
    Exception: _internal,
}
