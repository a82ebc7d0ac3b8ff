"""The one place ragbus calls a chat model: litellm's ``acompletion`` run by ``with_fallback``.

generate_svc streams answers and condenses follow-ups, retrieve_svc rewrites
questions and drafts passages; all of them call :class:`LlmClient`, so every call
sends the same request, with the same retries, fallback models, deadline and error
classes (:mod:`ragbus.llm.calls`, :mod:`ragbus.llm.errors`).
"""

import copy
import os
from collections.abc import AsyncIterator, Callable, Sequence
from types import ModuleType
from typing import Any

from ragbus.llm.calls import GenerationStats, RetryPolicy, with_fallback
from ragbus.llm.errors import classify_error
from ragbus.llm.settings import LlmSettings
from ragbus.telemetry import stage
from schemas.generation import GenerationOptions

Messages = list[dict[str, str]]
"""OpenAI-style chat messages, ``{"role": ..., "content": ...}``, in order."""

MessagesFor = Callable[[str], Messages]
"""``model`` -> the messages to send it (a prompt fitted to that model's window)."""


def import_litellm() -> ModuleType:
    """litellm, with its bundled price map and without its help banner.

    Importing litellm takes seconds, so it is imported on first use, here only.

    Returns:
        The ``litellm`` module.
    """
    # Must precede the first import: otherwise litellm downloads a price map at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    # litellm prints a "Give Feedback / Get Help" banner to stdout on every failed
    # call; the services log their own structured warning instead.
    litellm.suppress_debug_info = True
    return litellm


class LlmClient:
    """Chat calls through litellm: each model tried in turn, with retries, in one deadline.

    litellm's own retries are off (``num_retries=0``, ``max_retries=0``):
    :func:`~ragbus.llm.calls.with_fallback` retries instead, so every attempt is
    counted, ``Retry-After`` is honoured, fallback models are tried in order and one
    deadline bounds them all. Fallback models share ``api_base`` and ``api_key``;
    leave those unset to mix providers (litellm then reads each provider's own key
    variable). Building a client makes no call and does not import litellm.

    Attributes:
        models: litellm model strings in the order they are tried.
        model: The preferred model, ``models[0]``; :class:`GenerationStats` names the
            one that answered.
        max_tokens: Longest reply in tokens.
    """

    def __init__(
        self,
        models: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        temperature: float = 0.1,
        max_tokens: int = 512,
        policy: RetryPolicy | None = None,
    ) -> None:
        """Configure the calls.

        Args:
            models: Any litellm model strings (``"ollama/llama3"``,
                ``"openai/gpt-4o-mini"``), preferred first.
            api_base: Provider URL, for local or OpenAI-compatible servers.
            api_key: Provider key; ``None`` lets litellm read the provider's variable.
            timeout_s: Per-request timeout in seconds; for a stream it also bounds
                each wait between chunks.
            temperature: Sampling temperature.
            max_tokens: Longest reply in tokens.
            policy: Retries, backoff and deadline (default :class:`RetryPolicy`).

        Raises:
            ValueError: ``models`` is empty.
        """
        if not models:
            raise ValueError("an LLM client needs at least one model")
        self.models = list(models)
        self.model = self.models[0]
        self.max_tokens = max_tokens
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._policy = policy or RetryPolicy()
        self._stop: list[str] | None = None
        self._user: str | None = None

    def with_options(self, options: GenerationOptions) -> "LlmClient":
        """A copy whose calls use the request's ``options`` where they are set.

        ``max_tokens`` and ``temperature`` replace the configured ones; ``stop``
        and ``user`` are sent to the provider as OpenAI's ``stop`` and ``user``.
        The copy shares the models, endpoint, key, timeout and retry policy.
        """
        tuned = copy.copy(self)
        if options.max_tokens is not None:
            tuned.max_tokens = options.max_tokens
        if options.temperature is not None:
            tuned._temperature = options.temperature
        tuned._stop = list(options.stop) if options.stop else None
        tuned._user = options.user
        return tuned

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> "LlmClient":
        """The client ``settings`` describe.

        Raises:
            ValueError: ``settings.llm_model`` is unset.
        """
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            settings.llm_models(),
            api_base=settings.llm_api_base,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            policy=settings.llm_retry_policy(),
        )

    def warm_up(self) -> None:
        """Import litellm now (seconds) instead of at the first call."""
        import_litellm()

    def token_counter(self, model: str) -> Callable[[str], int]:
        """Counts the tokens of a text with ``model``'s own tokenizer."""
        litellm = import_litellm()

        def count(text: str) -> int:
            return int(litellm.token_counter(model=model, text=text))

        return count

    def input_window(self, model: str) -> int | None:
        """``model``'s input window in tokens from litellm's price map; None if not in it."""
        try:
            known = import_litellm().get_model_info(model).get("max_input_tokens")
        except Exception:  # not in the map: a local or custom model
            return None
        return int(known) if known else None

    def _request(self, model: str, messages: Messages, remaining_s: float) -> dict[str, Any]:
        return {
            "model": model,
            "messages": messages,
            "timeout": min(self._timeout_s, remaining_s),
            "api_base": self._api_base,
            "api_key": self._api_key,
            "temperature": self._temperature,
            "max_tokens": self.max_tokens,
            "num_retries": 0,
            "max_retries": 0,
            **({"stop": self._stop} if self._stop else {}),
            **({"user": self._user} if self._user else {}),
        }

    async def complete(self, messages: Messages, stats: GenerationStats | None = None) -> str:
        """One non-streamed chat call, with retries and fallbacks.

        Args:
            messages: The chat messages, the same for every model.
            stats: Receives the attempts and the answering model.

        Returns:
            The model's reply text ("" if it sent none).

        Raises:
            PermanentError: No model answered within the retries and the deadline
                (see :func:`~ragbus.llm.calls.with_fallback`).
        """
        litellm = import_litellm()  # before the deadline starts: importing takes seconds

        async def attempt(model: str, remaining_s: float) -> AsyncIterator[str]:
            response = await litellm.acompletion(**self._request(model, messages, remaining_s))
            yield str(response.choices[0].message.content or "")

        pieces = with_fallback(
            self.models, attempt, classify_error, self._policy, stats or GenerationStats()
        )
        return "".join([piece async for piece in pieces])

    async def stream(self, messages_for: MessagesFor, stats: GenerationStats) -> AsyncIterator[str]:
        """Stream one chat reply, with retries and fallbacks, in an ``llm`` span.

        Args:
            messages_for: The messages for a model, asked again for each model tried.
            stats: Receives tokens, cost, attempts and the answering model.

        Yields:
            Non-empty text deltas from the model.

        Raises:
            PermanentError: No model answered within the retries and the deadline,
                or the stream broke midway; the message names every attempt.
        """
        litellm = import_litellm()

        async def attempt(model: str, remaining_s: float) -> AsyncIterator[str]:
            # GenAI semantic conventions; not the current span: this is a generator.
            provider = model.split("/", 1)[0] if "/" in model else "openai"
            attributes: dict[str, str | int] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.request.max_tokens": self.max_tokens,
            }
            with stage("llm", attributes, activate=False) as span:
                messages = messages_for(model)
                response = await litellm.acompletion(
                    **self._request(model, messages, remaining_s),
                    stream=True,
                    stream_options={"include_usage": True},
                )
                parts: list[str] = []
                usage = None
                async for chunk in response:
                    usage = getattr(chunk, "usage", None) or usage
                    if not chunk.choices:
                        continue
                    content = chunk.choices[0].delta.content
                    if content:
                        parts.append(content)
                        yield content
                record_usage(stats, model, usage, messages, "".join(parts))
                span.set_attributes(
                    {
                        "gen_ai.usage.input_tokens": stats.prompt_tokens,
                        "gen_ai.usage.output_tokens": stats.completion_tokens,
                    }
                )

        async for piece in with_fallback(self.models, attempt, classify_error, self._policy, stats):
            yield piece


def record_usage(
    stats: GenerationStats, model: str, usage: object | None, messages: Messages, reply: str
) -> None:
    """Store the tokens and cost of a finished call in ``stats``.

    Tokens come from the provider's ``usage`` (requested with
    ``stream_options.include_usage``); a provider that sends none is counted with
    litellm's tokenizer for the model. The cost is litellm's ``cost_per_token`` from
    its bundled price map; None for models not in it.

    Args:
        stats: Receives ``prompt_tokens``, ``completion_tokens`` and ``cost_usd``.
        model: The model that replied.
        usage: The provider's usage object, or None when it sent none.
        messages: The messages sent, counted when ``usage`` lacks the prompt tokens.
        reply: The text received, counted when ``usage`` lacks the completion tokens.
    """
    litellm = import_litellm()
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None:
        prompt = litellm.token_counter(model=model, messages=messages)
    if completion is None:
        completion = litellm.token_counter(model=model, text=reply) if reply else 0
    stats.prompt_tokens, stats.completion_tokens = int(prompt), int(completion)
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model,
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
        )
        stats.cost_usd = float(prompt_cost + completion_cost)
    except Exception:  # not in litellm's price map: a local or custom model
        stats.cost_usd = None
