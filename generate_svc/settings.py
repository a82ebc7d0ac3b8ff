"""Settings of the generate service, read from ``RAGBUS_*`` environment variables."""

from pydantic import Field, SecretStr

from generate_svc.extractive import DEFAULT_MIN_SCORE
from generate_svc.prompts import DEFAULT_MAX_CONTEXT_CHARS
from ragbus.settings import InfraSettings


class GenerateSettings(InfraSettings):
    """How answers are generated.

    With ``llm_model`` unset the service answers offline with the extractive
    answerer, which needs nothing but the embedding model.

    Attributes:
        llm_model: Any litellm model string (``RAGBUS_LLM_MODEL``), for example
            ``openai/gpt-4o-mini`` or ``ollama/llama3``; ``None`` selects the
            extractive answerer.
        llm_api_base: Provider URL (``RAGBUS_LLM_API_BASE``), for Ollama, vLLM or any
            OpenAI-compatible server.
        llm_api_key: Provider key (``RAGBUS_LLM_API_KEY``); ``None`` lets litellm read
            the provider's own variable (``OPENAI_API_KEY``...).
        llm_timeout_s: Per-request timeout in seconds, also the longest wait between
            streamed chunks.
        llm_temperature: Sampling temperature; low so answers stay on the passages.
        llm_max_tokens: Longest answer in tokens.
        llm_max_context_chars: Character budget of the passages in the prompt; the
            lowest-ranked passages are dropped first.
        extractive_max_sentences: Sentences in an extractive answer.
        extractive_min_score: Lowest question-sentence cosine an extractive answer
            quotes; calibrated on all-MiniLM-L6-v2, see
            :data:`generate_svc.extractive.DEFAULT_MIN_SCORE`. Change it together
            with ``embed_model``.
    """

    llm_model: str | None = None
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_temperature: float = Field(default=0.1, ge=0, le=2)
    llm_max_tokens: int = Field(default=512, ge=1)
    llm_max_context_chars: int = Field(default=DEFAULT_MAX_CONTEXT_CHARS, ge=500)
    extractive_max_sentences: int = Field(default=3, ge=1, le=20)
    extractive_min_score: float = Field(default=DEFAULT_MIN_SCORE, ge=-1, le=1)
