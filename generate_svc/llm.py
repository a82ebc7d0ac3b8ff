"""The LLM answerer: any litellm model, streamed, with provider errors classified."""

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence

import httpx

# Must precede the litellm import: otherwise it downloads a price map at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
import openai

from generate_svc.prompts import DEFAULT_MAX_CONTEXT_CHARS, NOT_FOUND_ANSWER, build_messages
from ragbus.errors import PermanentError, RagbusError, RetryableError
from schemas.queries import Passage

log = logging.getLogger(__name__)

# litellm prints a "Give Feedback / Get Help" banner to stdout on every failed call;
# the service logs its own structured warning instead.
litellm.suppress_debug_info = True

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


class LiteLLMAnswerer:
    """Answer with a chat model through litellm, citing the numbered passages.

    litellm's own retries are off (``num_retries=0``, ``max_retries=0``): the bus
    redelivers a failed query with a delay, so retrying here would multiply attempts.

    Attributes:
        model: The litellm model string, for example ``"openai/gpt-4o-mini"``.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        temperature: float = 0.1,
        max_tokens: int = 512,
        max_context_chars: int = DEFAULT_MAX_CONTEXT_CHARS,
    ) -> None:
        """Configure the answerer; makes no call.

        Args:
            model: Any litellm model string (``"ollama/llama3"``, ``"openai/gpt-4o-mini"``).
            api_base: Provider URL, for local or OpenAI-compatible servers.
            api_key: Provider key; ``None`` lets litellm read the provider's env var.
            timeout_s: Per-request timeout in seconds; for a stream it also bounds
                each wait between chunks.
            temperature: Sampling temperature; low, answers should stick to the passages.
            max_tokens: Longest answer in tokens.
            max_context_chars: Character budget of the passages in the prompt.
        """
        self.model = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._max_context_chars = max_context_chars

    async def complete(self, messages: list[dict[str, str]]) -> str:
        """One non-streamed chat call, for short tasks such as condensing a follow-up.

        Args:
            messages: OpenAI-style chat messages.

        Returns:
            The model's reply text ("" if it sent none).

        Raises:
            RetryableError: Timeout, connection failure, rate limit or 5xx.
            PermanentError: Authentication failure or a request the provider rejects.
        """
        try:
            response = await litellm.acompletion(
                model=self.model,
                messages=messages,
                timeout=self._timeout_s,
                api_base=self._api_base,
                api_key=self._api_key,
                temperature=0.0,
                max_tokens=self._max_tokens,
                num_retries=0,
                max_retries=0,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = classify_error(exc)
            if error is None:
                raise
            raise error from exc
        return str(response.choices[0].message.content or "")

    async def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        """Stream the model's answer.

        Args:
            question: The user's question.
            passages: Passages ranked best first, numbered ``[1]..[k]`` in the prompt.

        Yields:
            Non-empty text deltas from the model; exactly :data:`NOT_FOUND_ANSWER`
            without calling the model when there are no passages.

        Raises:
            RetryableError: Timeout, connection failure, rate limit or 5xx.
            PermanentError: Authentication failure or a request the provider rejects.
        """
        if not passages:
            yield NOT_FOUND_ANSWER
            return
        messages = build_messages(question, passages, max_context_chars=self._max_context_chars)
        try:
            response = await litellm.acompletion(
                model=self.model,
                messages=messages,
                stream=True,
                timeout=self._timeout_s,
                api_base=self._api_base,
                api_key=self._api_key,
                temperature=self._temperature,
                max_tokens=self._max_tokens,
                num_retries=0,
                max_retries=0,
            )
            async for chunk in response:
                if not chunk.choices:
                    continue
                content = chunk.choices[0].delta.content
                if content:
                    yield content
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = classify_error(exc)
            if error is None:
                raise
            log.warning(
                "llm call failed",
                extra={
                    "model": self.model,
                    "code": error.code,
                    "retryable": isinstance(error, RetryableError),
                },
            )
            raise error from exc
