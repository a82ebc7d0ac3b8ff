"""How an LLM writes one answer: the options a query may carry to generate_svc."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_STOP_SEQUENCES", "GenerationOptions"]

MAX_STOP_SEQUENCES = 4
"""Most stop sequences one query may give (OpenAI's limit)."""


class GenerationOptions(BaseModel):
    """How an LLM writes one answer; every field left out keeps the service's setting.

    Carried by :class:`QueryRequested` and :class:`ContextRetrieved` as an optional
    field (consumers that do not know it ignore it). The offline extractive
    answerer calls no model and ignores them all.

    Attributes:
        max_tokens: Longest answer in tokens (the service's ``RAGBUS_LLM_MAX_TOKENS``
            otherwise); also the room kept for the answer in the model's window.
        temperature: Sampling temperature, 0-2 (``RAGBUS_LLM_TEMPERATURE`` otherwise).
        stop: Up to 4 sequences (1-256 characters each) at which the model stops.
        user: The end user's id, passed to the provider (OpenAI's ``user``).
    """

    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"additionalProperties": False}
    )

    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    stop: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, min_length=1, max_length=MAX_STOP_SEQUENCES
    )
    user: str | None = Field(default=None, max_length=256)
