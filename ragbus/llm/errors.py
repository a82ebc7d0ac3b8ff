"""Provider errors as ragbus errors: which are worth retrying, which never will succeed."""

import httpx
import openai

from ragbus.errors import PermanentError, RagbusError, RetryableError

# HTTP statuses worth trying again: timeout, conflict, too early, rate limit.
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def classify_error(exc: BaseException) -> RagbusError | None:
    """Map a provider or transport error to a ragbus error.

    Args:
        exc: An exception raised by ``litellm.acompletion`` or while iterating
            its stream.

    Returns:
        :class:`RetryableError` for timeouts, connection failures, rate limits and
        5xx; :class:`PermanentError` for other 4xx (bad auth, bad request, unknown
        model, context too long); ``None`` when ``exc`` is not a provider error
        (a bug, which should surface unchanged). The provider's message is kept.
    """
    original = getattr(exc, "original_exception", None)  # MidStreamFallbackError wraps
    if isinstance(original, Exception):
        return classify_error(original) or RetryableError(str(exc), code="llm_unavailable")
    message = str(exc) or type(exc).__name__
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return RetryableError(message, code="llm_timeout")
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return RetryableError(message, code="llm_unavailable")
    if not isinstance(exc, openai.OpenAIError):
        return None
    status = getattr(exc, "status_code", None)
    if status == 429:
        return RetryableError(message, code="llm_rate_limited")
    if isinstance(status, int) and (status >= 500 or status in _RETRYABLE_STATUS):
        return RetryableError(message, code="llm_unavailable")
    if isinstance(status, int) and status in (401, 403):
        return PermanentError(message, code="llm_auth_failed")
    if isinstance(status, int) and 400 <= status < 500:
        return PermanentError(message, code="llm_bad_request")
    # An OpenAIError without a status (e.g. a malformed stream): assume transient.
    return RetryableError(message, code="llm_unavailable")
