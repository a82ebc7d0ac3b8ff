"""Settings of the chat model a service calls, read from ``RAGBUS_LLM_*`` environment variables.

A service's settings class inherits :class:`LlmSettings`: generate_svc's as it is,
retrieve_svc's with its own prefix, aliases and shorter defaults (see
``retrieve_svc.settings``), so each service keeps its variable names while the
fields, their checks and what they turn into are written once.
"""

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ragbus.llm.calls import RetryPolicy


class LlmSettings(BaseSettings):
    """Which chat model answers, through which provider, and how hard a call tries.

    Attributes:
        llm_model: Any litellm model string (``RAGBUS_LLM_MODEL``), for example
            ``openai/gpt-4o-mini`` or ``ollama/llama3``; ``None``: no LLM (the
            service falls back to what it does without one).
        llm_fallback_models: Models tried in order when ``llm_model`` keeps failing
            (``RAGBUS_LLM_FALLBACK_MODELS``, comma-separated).
        llm_api_base: Provider URL (``RAGBUS_LLM_API_BASE``), for Ollama, vLLM or any
            OpenAI-compatible server; the fallback models share it.
        llm_api_key: Provider key (``RAGBUS_LLM_API_KEY``); ``None`` lets litellm read
            the provider's own variable (``OPENAI_API_KEY``...).
        llm_timeout_s: Per-request timeout in seconds, also the longest wait between
            streamed chunks (``RAGBUS_LLM_TIMEOUT_S``).
        llm_max_retries: Retries per model on timeouts, 429 and 5xx
            (``RAGBUS_LLM_MAX_RETRIES``).
        llm_backoff_s: First retry wait in seconds, doubled per retry; a provider's
            ``Retry-After`` replaces it (``RAGBUS_LLM_BACKOFF_S``).
        llm_max_backoff_s: Longest retry wait in seconds; a longer ``Retry-After``
            moves on to the next model (``RAGBUS_LLM_MAX_BACKOFF_S``).
        llm_deadline_s: All attempts of one call, in seconds (``RAGBUS_LLM_DEADLINE_S``);
            under the gateway's 180 s ``query_timeout_s`` so the client gets
            ``answer.failed``, not a timeout.
        llm_temperature: Sampling temperature (``RAGBUS_LLM_TEMPERATURE``); low so
            answers stay on the passages.
        llm_max_tokens: Longest reply in tokens (``RAGBUS_LLM_MAX_TOKENS``).
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_", extra="ignore")

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

    @field_validator("llm_fallback_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        """Accept ``"a,b"`` from the environment as well as a list."""
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value

    def llm_models(self) -> list[str]:
        """The models in the order they are tried.

        Returns:
            ``llm_model`` then each fallback model that differs from it; empty when
            ``llm_model`` is unset.
        """
        if self.llm_model is None:
            return []
        return [self.llm_model, *(m for m in self.llm_fallback_models if m != self.llm_model)]

    def llm_retry_policy(self) -> RetryPolicy:
        """The retries, backoff and deadline of one call, as ``with_fallback`` takes them."""
        return RetryPolicy(
            max_retries=self.llm_max_retries,
            backoff_s=self.llm_backoff_s,
            max_backoff_s=self.llm_max_backoff_s,
            deadline_s=self.llm_deadline_s,
        )
