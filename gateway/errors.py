"""How the gateway answers a refusal: one JSON shape, the right status and headers.

Every error body is ``{"detail": "<what was wrong>", "code": "<machine code>"}``
(``code`` may be absent on plain 404s and 409s). 401 carries
``WWW-Authenticate: Bearer`` (RFC 6750), 429 carries ``Retry-After`` in seconds.
The OpenAPI document declares these responses on every route (:data:`ERRORS`).
OpenAI's routes answer in OpenAI's shape instead (:mod:`gateway.openai_errors`).
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.auth.authenticate import AuthError
from gateway.auth.quotas import QuotaExceededError
from gateway.openai_errors import OpenAIError, is_openai_path, openai_body
from gateway.request_checks import safe_errors


class ErrorBody(BaseModel):
    """A refusal: what was wrong, for people, and a stable code, for programs."""

    detail: Any
    code: str | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No credential, or one that is malformed, unknown, revoked or expired"),
    403: _error("The credential's role may not do this"),
    404: _error("Not found in the caller's tenant (other tenants' objects are never revealed)"),
    413: _error("The body is over its size limit"),
    422: _error("The body or a parameter is invalid; the message names the field"),
    429: _error("Over a rate limit or quota; Retry-After says when to retry"),
}
"""Responses every authenticated route may give, for the OpenAPI document."""


async def _auth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    headers = {"WWW-Authenticate": exc.www_authenticate} if exc.www_authenticate else None
    if is_openai_path(request.url.path):
        body = openai_body(exc.status, str(exc), code=exc.code)
        return JSONResponse(body, exc.status, headers=headers)
    return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status, headers=headers)


async def _quota_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceededError)
    headers = {"Retry-After": str(exc.retry_after_s)}
    if is_openai_path(request.url.path):
        return JSONResponse(openai_body(429, f"over {exc}", code="rate_limited"), 429, headers)
    body = {"detail": f"over {exc}", "code": "rate_limited", "quota": exc.quota}
    return JSONResponse(body, 429, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = safe_errors(exc.errors())
    if is_openai_path(request.url.path):
        return JSONResponse(openai_validation_body(errors), 400)
    return JSONResponse({"detail": errors, "code": "invalid_request"}, 422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not is_openai_path(request.url.path):
        return await http_exception_handler(request, exc)
    body = openai_body(exc.status_code, str(exc.detail), code=_HTTP_CODES.get(exc.status_code))
    return JSONResponse(body, exc.status_code, headers=exc.headers)


async def _openai_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenAIError)
    return JSONResponse(exc.body(), exc.status)


def openai_validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A validation failure as OpenAI's 400: the first error, its field as ``param``.

    ``code`` is the error's own type when a validator gave one
    (``unsupported_parameter``, ``unsupported_value``), else ``invalid_value``.
    """
    first = errors[0] if errors else {"loc": [], "msg": "invalid request", "type": ""}
    loc = [str(part) for part in first.get("loc", []) if part != "body"]
    param = ".".join(loc) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    code = str(first.get("type")) if first.get("type") in _OPENAI_CODES else "invalid_value"
    return openai_body(400, f"{param}: {message}" if param else message, code=code, param=param)


_OPENAI_CODES = frozenset({"unsupported_parameter", "unsupported_value"})
_HTTP_CODES = {404: "not_found", 413: "body_too_large", 502: "answer_failed", 504: "timeout"}


def install(app: FastAPI) -> None:
    """Register the gateway's error handlers on ``app``.

    OpenAI's routes (:data:`gateway.openai_errors.OPENAI_PATHS`) answer every error,
    validation and authentication included, in OpenAI's shape; validation errors
    there are 400, as OpenAI's, instead of 422.
    """
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(QuotaExceededError, _quota_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OpenAIError, _openai_error)
