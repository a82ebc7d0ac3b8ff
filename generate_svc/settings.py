"""Settings of the generate service, read from ``RAGBUS_*`` environment variables."""

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from generate_svc.extractive import DEFAULT_MIN_SCORE
from generate_svc.prompts import DEFAULT_CONTEXT_TOKENS
from ragbus.settings import InfraSettings


class GenerateSettings(InfraSettings):
    """How answers are generated.

    With ``llm_model`` unset the service answers offline with the extractive
    answerer, which needs nothing but the embedding model.

    Attributes:
        llm_model: Any litellm model string (``RAGBUS_LLM_MODEL``), for example
            ``openai/gpt-4o-mini`` or ``ollama/llama3``; ``None`` selects the
            extractive answerer.
        llm_fallback_models: Models tried in order when ``llm_model`` keeps failing
            (``RAGBUS_LLM_FALLBACK_MODELS``, comma-separated).
        llm_api_base: Provider URL (``RAGBUS_LLM_API_BASE``), for Ollama, vLLM or any
            OpenAI-compatible server.
        llm_api_key: Provider key (``RAGBUS_LLM_API_KEY``); ``None`` lets litellm read
            the provider's own variable (``OPENAI_API_KEY``...).
        llm_timeout_s: Per-request timeout in seconds, also the longest wait between
            streamed chunks.
        llm_max_retries: Retries per model on timeouts, 429 and 5xx.
        llm_backoff_s: First retry wait in seconds, doubled per retry; a provider's
            ``Retry-After`` replaces it.
        llm_max_backoff_s: Longest retry wait in seconds; a longer ``Retry-After``
            moves on to the next model.
        llm_deadline_s: All attempts of one answer, in seconds; under the gateway's
            180 s ``query_timeout_s`` so the client gets ``answer.failed``, not a timeout.
        llm_temperature: Sampling temperature; low so answers stay on the passages.
        llm_max_tokens: Longest answer in tokens.
        llm_context_tokens: Context window in tokens of a model litellm's price map
            does not know (local models); the passages fill what the system prompt,
            question and answer leave, lowest-ranked dropped first.
        extractive_max_sentences: Sentences in an extractive answer.
        extractive_min_score: Lowest question-sentence cosine an extractive answer
            quotes; calibrated on all-MiniLM-L6-v2, see
            :data:`generate_svc.extractive.DEFAULT_MIN_SCORE`. Change it together
            with ``embed_model``.
    """

    llm_model: str | None = None
    llm_fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_backoff_s: float = Field(default=0.5, ge=0)
    llm_max_backoff_s: float = Field(default=20.0, ge=0)
    llm_deadline_s: float = Field(default=150.0, gt=0)
    llm_temperature: float = Field(default=0.1, ge=0, le=2)
    llm_max_tokens: int = Field(default=512, ge=1)
    llm_context_tokens: int = Field(default=DEFAULT_CONTEXT_TOKENS, ge=1024)
    extractive_max_sentences: int = Field(default=3, ge=1, le=20)
    extractive_min_score: float = Field(default=DEFAULT_MIN_SCORE, ge=-1, le=1)

    @field_validator("llm_fallback_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        """Accept ``"a,b"`` from the environment as well as a list."""
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value
