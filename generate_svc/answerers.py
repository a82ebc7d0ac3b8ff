"""The answer-generator port of generate_svc and the factory that picks an adapter."""

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from generate_svc.citations import build_citations
from generate_svc.extractive import ExtractiveAnswerer
from generate_svc.prompts import NOT_FOUND_ANSWER
from generate_svc.settings import GenerateSettings
from ragbus.embedding.base import Embedder
from ragbus.llm.calls import GenerationStats, RetryPolicy
from schemas.queries import Passage

__all__ = [
    "NOT_FOUND_ANSWER",
    "Answerer",
    "GenerateSettings",
    "build_answerer",
    "build_citations",
]


class Answerer(Protocol):
    """Writes an answer to a question from retrieved passages, as a stream.

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
            :data:`NOT_FOUND_ANSWER` when the passages hold no answer.

        Raises:
            RetryableError: The generator is unavailable for now (a database, not the
                LLM: provider outages are retried inside and end as PermanentError).
            PermanentError: It will not answer this request (no model answered in
                the retries and deadline, bad key, bad request).
        """
        ...


def build_answerer(settings: GenerateSettings, embedder: Embedder) -> Answerer:
    """Choose the answerer: the LLM when ``settings.llm_model`` is set, else extractive.

    Args:
        settings: Generate service settings.
        embedder: The embedding model, used by the extractive answerer; the caller
            warms it up.

    Returns:
        A ready answerer; building it makes no network call.
    """
    if settings.llm_model:
        from generate_svc.llm_answerer import LiteLLMAnswerer  # importing litellm takes seconds

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return LiteLLMAnswerer(
            settings.llm_model,
            fallback_models=settings.llm_fallback_models,
            api_base=settings.llm_api_base,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            context_tokens=settings.llm_context_tokens,
            policy=RetryPolicy(
                max_retries=settings.llm_max_retries,
                backoff_s=settings.llm_backoff_s,
                max_backoff_s=settings.llm_max_backoff_s,
                deadline_s=settings.llm_deadline_s,
            ),
        )
    return ExtractiveAnswerer(
        embedder,
        max_sentences=settings.extractive_max_sentences,
        min_score=settings.extractive_min_score,
    )
