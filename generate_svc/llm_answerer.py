"""The LLM answerer: any litellm model, streamed, with provider errors classified."""

import os
from collections.abc import AsyncIterator, Sequence

# Must precede the litellm import: otherwise it downloads a price map at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from generate_svc.prompts import (
    DEFAULT_CONTEXT_TOKENS,
    NOT_FOUND_ANSWER,
    TokenCounter,
    build_messages,
    context_budget,
)
from ragbus.llm.calls import GenerationStats, RetryPolicy, with_fallback
from ragbus.llm.errors import classify_error
from ragbus.telemetry import stage
from schemas.queries import Passage

# litellm prints a "Give Feedback / Get Help" banner to stdout on every failed call;
# the service logs its own structured warning instead.
litellm.suppress_debug_info = True


class LiteLLMAnswerer:
    """Answer with a chat model through litellm, citing the numbered passages.

    litellm's own retries are off (``num_retries=0``, ``max_retries=0``):
    :func:`~ragbus.llm.calls.with_fallback` retries instead, so every attempt
    is counted, ``Retry-After`` is honoured, fallback models are tried in order
    and one deadline bounds them all. Fallback models share ``api_base`` and
    ``api_key``; leave those unset to mix providers (litellm then reads each
    provider's own key variable).

    Attributes:
        model: The preferred model string, for example ``"openai/gpt-4o-mini"``;
            :class:`GenerationStats` names the one that answered.
        models: ``model`` then the fallback models, in the order they are tried.
    """

    def __init__(
        self,
        model: str,
        *,
        fallback_models: Sequence[str] = (),
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        temperature: float = 0.1,
        max_tokens: int = 512,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        policy: RetryPolicy | None = None,
    ) -> None:
        """Configure the answerer; makes no call.

        Args:
            model: Any litellm model string (``"ollama/llama3"``, ``"openai/gpt-4o-mini"``).
            fallback_models: Models tried in order when ``model`` keeps failing.
            api_base: Provider URL, for local or OpenAI-compatible servers.
            api_key: Provider key; ``None`` lets litellm read the provider's env var.
            timeout_s: Per-request timeout in seconds; for a stream it also bounds
                each wait between chunks.
            temperature: Sampling temperature; low, answers should stick to the passages.
            max_tokens: Longest answer in tokens, reserved in the context window.
            context_tokens: Context window of a model litellm's map does not know, in
                tokens; known models use their ``max_input_tokens``.
            policy: Retries, backoff and deadline (default :class:`RetryPolicy`).
        """
        self.model = model
        self.models = [model, *(m for m in fallback_models if m != model)]
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._context_tokens = context_tokens
        self._policy = policy or RetryPolicy()

    def _counter(self, model: str) -> TokenCounter:
        def count(text: str) -> int:
            return int(litellm.token_counter(model=model, text=text))

        return count

    def _window(self, model: str) -> int:
        """The model's input window in tokens: litellm's price map, else the default."""
        try:
            known = litellm.get_model_info(model).get("max_input_tokens")
        except Exception:  # not in the map: a local or custom model
            known = None
        return int(known) if known else self._context_tokens

    def _request(self, model: str, messages: list[dict[str, str]], timeout_s: float) -> dict:
        return {
            "model": model,
            "messages": messages,
            "timeout": min(self._timeout_s, timeout_s),
            "api_base": self._api_base,
            "api_key": self._api_key,
            "temperature": self._temperature,
            "max_tokens": self._max_tokens,
            "num_retries": 0,
            "max_retries": 0,
        }

    async def complete(
        self, messages: list[dict[str, str]], stats: GenerationStats | None = None
    ) -> str:
        """One non-streamed chat call (with retries and fallbacks), e.g. to condense a question.

        Args:
            messages: OpenAI-style chat messages.
            stats: Receives the attempts and the answering model.

        Returns:
            The model's reply text ("" if it sent none).

        Raises:
            PermanentError: No model answered (see :func:`with_fallback`).
        """

        async def attempt(model: str, timeout_s: float) -> AsyncIterator[str]:
            response = await litellm.acompletion(**self._request(model, messages, timeout_s))
            yield str(response.choices[0].message.content or "")

        pieces = with_fallback(
            self.models, attempt, classify_error, self._policy, stats or GenerationStats()
        )
        return "".join([piece async for piece in pieces])

    async def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        """Stream the model's answer.

        The passages are fitted to each model's window in tokens (its own tokenizer
        through litellm), dropping the lowest-ranked first.

        Args:
            question: The user's question.
            passages: Passages ranked best first, numbered ``[1]..[k]`` in the prompt.
            stats: Receives tokens, cost, attempts and the answering model.

        Yields:
            Non-empty text deltas from the model; exactly :data:`NOT_FOUND_ANSWER`
            without calling the model when there are no passages.

        Raises:
            PermanentError: No model answered within the retries and the deadline,
                or the stream broke midway; the message names every attempt.
        """
        if not passages:
            yield NOT_FOUND_ANSWER
            return
        stats = stats if stats is not None else GenerationStats()

        async def attempt(model: str, timeout_s: float) -> AsyncIterator[str]:
            # GenAI semantic conventions; not the current span: this is a generator.
            provider = model.split("/", 1)[0] if "/" in model else "openai"
            attributes: dict[str, str | int] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.request.max_tokens": self._max_tokens,
            }
            with stage("llm", attributes, activate=False) as span:
                count = self._counter(model)
                budget = context_budget(self._window(model), self._max_tokens, question, count)
                messages = build_messages(question, passages, budget_tokens=budget, count=count)
                request = self._request(model, messages, timeout_s)
                response = await litellm.acompletion(
                    **request, stream=True, stream_options={"include_usage": True}
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
    stats: GenerationStats,
    model: str,
    usage: object | None,
    messages: list[dict[str, str]],
    answer: str,
) -> None:
    """Store the tokens and cost of a finished call in ``stats``.

    Tokens come from the provider's ``usage`` (requested with
    ``stream_options.include_usage``); a provider that sends none is counted with
    litellm's tokenizer for the model. The cost is litellm's ``cost_per_token`` from
    its bundled price map; None for models not in it.
    """
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None:
        prompt = litellm.token_counter(model=model, messages=messages)
    if completion is None:
        completion = litellm.token_counter(model=model, text=answer) if answer else 0
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
