"""How the gateway answers a refusal: one JSON shape, the right status and headers.

Every error body is ``{"detail": "<what was wrong>", "code": "<machine code>"}``
(``code`` may be absent on plain 404s and 409s). 401 carries
``WWW-Authenticate: Bearer`` (RFC 6750), 429 carries ``Retry-After`` in seconds.
The OpenAPI document declares these responses on every route (:data:`ERRORS`).
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.auth.authenticate import AuthError
from gateway.auth.quotas import QuotaExceededError
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
    return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status, headers=headers)


async def _quota_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceededError)
    return JSONResponse(
        {"detail": f"over {exc}", "code": "rate_limited", "quota": exc.quota},
        429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": safe_errors(exc.errors()), "code": "invalid_request"}, 422)


def install(app: FastAPI) -> None:
    """Register the gateway's error handlers on ``app``."""
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(QuotaExceededError, _quota_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
