"""OpenAI's error shape, for the routes that speak OpenAI's API.

On ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models`` every refusal,
authentication and quota errors included, is
``{"error": {"message", "type", "param", "code"}}``, the body OpenAI's clients
read, so the official SDKs raise their usual exception per status
(``BadRequestError`` for 400, ``AuthenticationError`` for 401,
``PermissionDeniedError`` for 403, ``NotFoundError`` for 404, ``RateLimitError``
for 429, ``InternalServerError`` for 5xx). Every other route keeps ragbus's
``{"detail", "code"}`` (:mod:`gateway.errors`).
"""

from typing import Any

from pydantic import BaseModel

OPENAI_PATHS = ("/v1/chat/completions", "/v1/embeddings", "/v1/models")
"""Path prefixes answered in OpenAI's error shape."""

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


def is_openai_path(path: str) -> bool:
    """Whether ``path`` is one of OpenAI's routes (``/v1/models/{id}`` included)."""
    return any(path == p or path.startswith(p + "/") for p in OPENAI_PATHS)


def error_type(status: int) -> str:
    """OpenAI's ``type`` for an HTTP status: ``invalid_request_error`` for 4xx but
    401 (``authentication_error``), 403 (``permission_error``) and 429
    (``rate_limit_error``); ``server_error`` for 5xx."""
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def openai_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` for a refusal with ``status``."""
    error = {"message": message, "type": error_type(status), "param": param, "code": code}
    return {"error": error}


class OpenAIError(Exception):
    """A refusal or failure of an OpenAI route, answered in OpenAI's error shape.

    Args:
        status: HTTP status.
        message: Readable reason; names the field and the limit, leaks nothing internal.
        param: The request field at fault, if one is.
        code: A stable code such as ``model_not_found`` or ``unsupported_parameter``.
    """

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        """The JSON body: see :func:`openai_body`."""
        return openai_body(self.status, self.message, code=self.code, param=self.param)


class OpenAIErrorDetail(BaseModel):
    """What was wrong: ``message`` for people, ``code`` and ``param`` for programs."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """An OpenAI route's refusal."""

    error: OpenAIErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": OpenAIErrorBody, "description": description}


OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body breaks a rule (OpenAI's BadRequestError); param names the field"),
    401: _error("No credential, or one that is malformed, unknown, revoked or expired"),
    403: _error("The credential's role may not do this"),
    404: _error("Not found in the caller's tenant, or an unknown model"),
    413: _error("The body is over its size limit"),
    429: _error("Over a rate limit or quota; Retry-After says when to retry"),
    502: _error("The answer failed (the LLM or a service refused it)"),
    503: _error("A service behind the gateway is unavailable; try again"),
    504: _error("No answer in time; the query is still recorded"),
}
"""Responses the OpenAI routes may give, for the OpenAPI document."""
