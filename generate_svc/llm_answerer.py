"""The LLM answerer: the passages fitted to a chat model's window, its answer streamed."""

from collections.abc import AsyncIterator, Sequence

from generate_svc.prompts import (
    DEFAULT_CONTEXT_TOKENS,
    NOT_FOUND_ANSWER,
    build_messages,
    context_budget,
)
from ragbus.llm.calls import GenerationStats
from ragbus.llm.client import LlmClient, Messages
from schemas.generation import GenerationOptions
from schemas.queries import Passage


class LiteLLMAnswerer:
    """Answer with a chat model through litellm, citing the numbered passages.

    The calls, their retries, fallback models and deadline are
    :class:`~ragbus.llm.client.LlmClient`'s; this class writes the prompt.

    Attributes:
        model: The preferred model string, for example ``"openai/gpt-4o-mini"``;
            :class:`GenerationStats` names the one that answered.
        models: ``model`` then the fallback models, in the order they are tried.
    """

    def __init__(self, llm: LlmClient, *, context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> None:
        """Configure the answerer; makes no call.

        Args:
            llm: The chat model calls; its ``max_tokens`` is reserved for the answer
                in the context window.
            context_tokens: Context window of a model litellm's map does not know, in
                tokens; known models use their ``max_input_tokens``.
        """
        self.model = llm.model
        self.models = llm.models
        self._llm = llm
        self._context_tokens = context_tokens

    def with_options(self, options: GenerationOptions) -> "LiteLLMAnswerer":
        """This answerer for one query's ``max_tokens``, ``temperature``, ``stop`` and
        ``user`` (see :meth:`ragbus.llm.client.LlmClient.with_options`); a larger
        ``max_tokens`` leaves less of the window to the passages."""
        return LiteLLMAnswerer(self._llm.with_options(options), context_tokens=self._context_tokens)

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

        def messages_for(model: str) -> Messages:
            count = self._llm.token_counter(model)
            window = self._llm.input_window(model) or self._context_tokens
            budget = context_budget(window, self._llm.max_tokens, question, count)
            return build_messages(question, passages, budget_tokens=budget, count=count)

        stats = stats if stats is not None else GenerationStats()
        async for piece in self._llm.stream(messages_for, stats):
            yield piece
