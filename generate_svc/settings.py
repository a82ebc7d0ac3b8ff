"""Settings of the generate service, read from ``RAGBUS_*`` environment variables."""

from pydantic import Field

from generate_svc.extractive import DEFAULT_MAX_CANDIDATES, DEFAULT_MIN_SCORE
from generate_svc.prompts import DEFAULT_CONTEXT_TOKENS
from ragbus.llm.settings import LlmSettings
from ragbus.settings import InfraSettings


class GenerateSettings(InfraSettings, LlmSettings):
    """How answers are generated.

    The ``llm_*`` fields and their ``RAGBUS_LLM_*`` variables are
    :class:`~ragbus.llm.settings.LlmSettings`'s, with its defaults: a 60 s request
    timeout, 2 retries per model, a 150 s deadline, temperature 0.1 and answers of
    at most 512 tokens. With ``llm_model`` unset the service answers offline with
    the extractive answerer, which needs nothing but the embedding model.

    Attributes:
        llm_context_tokens: Context window in tokens of a model litellm's price map
            does not know (local models); the passages fill what the system prompt,
            question and answer leave, lowest-ranked dropped first.
        extractive_max_sentences: Sentences in an extractive answer.
        extractive_min_score: Lowest question-sentence cosine an extractive answer
            quotes; calibrated on all-MiniLM-L6-v2, see
            :data:`generate_svc.extractive.DEFAULT_MIN_SCORE`. Change it together
            with ``embed_model``.
        extractive_max_candidates: Sentences an extractive answer embeds, the ones
            sharing most rare words with the question; 0 embeds every sentence. See
            :data:`generate_svc.extractive.DEFAULT_MAX_CANDIDATES`.
        generate_concurrency: ``context.retrieved`` messages answered at once per process
            (``RAGBUS_GENERATE_CONCURRENCY``),
            each acked on its own. One at a time, an answer's database write and
            publishes left the model idle, and queries queued behind each other
            (8 clients waited 8 answers; docs/benchmarks.md, issue 19).
    """

    llm_context_tokens: int = Field(default=DEFAULT_CONTEXT_TOKENS, ge=1024)
    extractive_max_sentences: int = Field(default=3, ge=1, le=20)
    extractive_min_score: float = Field(default=DEFAULT_MIN_SCORE, ge=-1, le=1)
    extractive_max_candidates: int = Field(default=DEFAULT_MAX_CANDIDATES, ge=0)
    generate_concurrency: int = Field(default=8, ge=1, le=64)
