"""Provider calls that end: retries with backoff, ``Retry-After``, fallback models, a deadline.

Shared by generate_svc (answers, condensing) and retrieve_svc (``multi_query``, ``hyde``).

One call tries its models in order. On each model a transient failure (timeout,
connection, 429, 5xx) is retried up to ``max_retries`` times, waiting what the
provider's ``Retry-After`` asks or else an exponential backoff; a refusal (bad key,
bad request, unknown model, context too long) moves straight to the next model.
When every model has failed, or the deadline has passed, the answer fails for good
with every model's reason, so the query becomes ``answer.failed`` at once instead
of being redelivered into the same outage while the client waits.
"""

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragbus.errors import PermanentError, RagbusError
from schemas.queries import Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one answer tries.

    Attributes:
        max_retries: Retries per model after its first attempt (429/5xx/timeouts only).
        backoff_s: Wait before the first retry, doubled for each next one, in seconds,
            with jitter (x0.5-1).
        max_backoff_s: Longest wait before a retry, in seconds; a ``Retry-After``
            longer than this skips to the next model instead of waiting.
        deadline_s: Wall-clock limit for all attempts of one answer, in seconds; keep
            it under the gateway's ``query_timeout_s`` (180 s).
    """

    max_retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    deadline_s: float = 150.0


@dataclass
class GenerationStats:
    """What one answer's provider calls cost; filled in while they run.

    Attributes:
        model: The model that produced the answer (after fallbacks); None offline.
        prompt_tokens: Input tokens of the successful call.
        completion_tokens: Output tokens of the successful call.
        cost_usd: litellm's price of those tokens; None when the model is not in
            its price map.
        attempts: Provider calls made, failed ones included.
        failures: ``"model: code"`` of every failed attempt, in order.
    """

    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    attempts: int = 0
    failures: list[str] = field(default_factory=list)

    def usage(self) -> Usage | None:
        """The ``Usage`` of ``answer.ready``; None when no provider was called."""
        if not self.attempts:
            return None
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
            attempts=self.attempts,
        )


def retry_after_s(exc: BaseException) -> float | None:
    """The wait a provider asked for, from ``retry-after-ms`` or ``Retry-After``.

    Args:
        exc: A provider error (litellm keeps the response headers on it).

    Returns:
        Seconds (``Retry-After`` may be seconds or an HTTP date), or None if absent.
    """
    for holder in (exc, getattr(exc, "original_exception", None)):
        headers: Any = getattr(holder, "litellm_response_headers", None)
        response = getattr(holder, "response", None)
        if headers is None and response is not None:
            headers = getattr(response, "headers", None)
        if headers is None:
            headers = getattr(holder, "headers", None)
        if not headers:
            continue
        value = headers.get("retry-after-ms")
        if value is not None:
            try:
                return max(float(value) / 1000, 0.0)
            except ValueError:
                pass
        value = headers.get("retry-after")
        if value is None:
            continue
        try:
            return max(float(value), 0.0)
        except ValueError:
            date = email.utils.parsedate_to_datetime(value)
            return max(date.timestamp() - time.time(), 0.0)
    return None


Attempt = Callable[[str, float], AsyncIterator[str]]
"""``(model, timeout_s)`` -> the text pieces of one provider call."""
Classify = Callable[[BaseException], RagbusError | None]


async def with_fallback(
    models: Sequence[str],
    attempt: Attempt,
    classify: Classify,
    policy: RetryPolicy,
    stats: GenerationStats,
) -> AsyncIterator[str]:
    """Run ``attempt`` on each model in turn until one completes; yield its text.

    Args:
        models: Models in order of preference, at least one.
        attempt: One provider call; raises provider errors as they come.
        classify: Maps provider errors to Retryable/Permanent (None: a bug, re-raised).
        policy: Retries, backoff and deadline.
        stats: Receives ``attempts``, ``failures`` and the answering ``model``.

    Yields:
        The pieces of the first call that completes.

    Raises:
        PermanentError: Every model failed, the deadline passed (``llm_deadline``), or
            the stream broke after text was sent (``llm_stream_interrupted``: a
            retry would repeat it). The code is the last failure's; the message
            lists every attempt's.
    """
    deadline = time.monotonic() + policy.deadline_s
    last: RagbusError | None = None
    for model in models:
        for retry in range(policy.max_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _gave_up(stats, last, code="llm_deadline")
            stats.attempts += 1
            sent = False
            try:
                async for piece in attempt(model, remaining):
                    sent = True
                    yield piece
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = classify(exc)
                if error is None:
                    raise
                last = error
                stats.failures.append(f"{model}: {error.code}")
                log.warning(
                    "llm attempt failed",
                    extra={"model": model, "code": error.code, "attempt": stats.attempts},
                )
                if sent:
                    raise _gave_up(stats, error, code="llm_stream_interrupted") from exc
                if isinstance(error, PermanentError) or retry == policy.max_retries:
                    break
                wait = retry_after_s(exc)
                if wait is None:
                    wait = policy.backoff_s * 2**retry * random.uniform(0.5, 1.0)
                elif wait > policy.max_backoff_s:
                    break  # the provider wants longer than we wait: try the next model
                if time.monotonic() + wait >= deadline:
                    raise _gave_up(stats, error, code="llm_deadline") from exc
                await asyncio.sleep(wait)
                continue
            stats.model = model
            return
    raise _gave_up(stats, last, code=last.code if last else "llm_unavailable")


def _gave_up(stats: GenerationStats, last: RagbusError | None, *, code: str) -> PermanentError:
    reason = f"; last error: {last}" if last else ""
    attempts = ", ".join(stats.failures) or "none"
    return PermanentError(
        f"no model answered after {stats.attempts} attempt(s) ({attempts}){reason}", code=code
    )
