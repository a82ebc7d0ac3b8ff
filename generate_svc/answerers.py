"""The answer-generator port of generate_svc; ``app.py`` picks the adapter."""

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from ragbus.llm.calls import GenerationStats
from schemas.embeddings import QuestionEmbedding
from schemas.generation import GenerationOptions
from schemas.queries import Passage


class Answerer(Protocol):
    """Writes an answer to a question from retrieved passages, as a stream.

    Adapters: :class:`~generate_svc.llm_answerer.LiteLLMAnswerer` and, offline,
    :class:`~generate_svc.extractive.ExtractiveAnswerer`.

    Attributes:
        model: ``"extractive"`` for the offline answerer, else the litellm model string;
            reported in ``AnswerReady.model``.
    """

    model: str

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        """Stream the answer text.

        Args:
            question: The user's question.
            passages: Passages ranked best first; the answer cites them as
                ``[1]..[k]`` by that rank.
            stats: Receives the provider calls' tokens, cost, attempts and model
                (untouched by the offline answerer, which calls none).

        Yields:
            Text deltas whose concatenation is the answer; exactly
            :data:`~generate_svc.prompts.NOT_FOUND_ANSWER` when the passages hold no
            answer.

        Raises:
            RetryableError: The generator is unavailable for now (a database, not the
                LLM: provider outages are retried inside and end as PermanentError).
            PermanentError: It will not answer this request (no model answered in
                the retries and deadline, bad key, bad request).
        """
        ...


@runtime_checkable
class TunableAnswerer(Answerer, Protocol):
    """An answerer whose model takes a query's :class:`GenerationOptions` (the LLM's)."""

    def with_options(self, options: GenerationOptions) -> Answerer:
        """This answerer, writing with ``options`` where they are set."""
        ...


@runtime_checkable
class QuestionEmbeddingAnswerer(Answerer, Protocol):
    """An answerer that embeds the question itself (the offline one) and can take the
    embedding retrieval computed instead (``ContextRetrieved.question_embedding``)."""

    def remember_question(self, question: str, embedding: QuestionEmbedding) -> bool:
        """Use ``embedding`` for ``question`` from now on; ``False`` when it does not
        fit (another model, another size, not finite) and the model will run."""
        ...


def answerer_for(answerer: Answerer, options: GenerationOptions | None) -> Answerer:
    """``answerer`` tuned to a query's options; unchanged when it has none, or when it
    calls no model (the offline extractive answerer has nothing to tune)."""
    if options is not None and isinstance(answerer, TunableAnswerer):
        return answerer.with_options(options)
    return answerer
