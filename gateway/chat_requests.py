"""The body of ``POST /v1/chat/completions``: OpenAI's fields, what ragbus honours and refuses.

Honoured: ``messages`` (the last ``user`` message is the question, earlier
``user``/``assistant`` pairs its history), ``stream``, ``model`` (echoed), and,
when generate_svc answers with an LLM, ``max_tokens`` (or
``max_completion_tokens``), ``temperature``, ``stop`` and ``user``, which travel
on the query event as :class:`~schemas.queries.GenerationOptions`. Refused with
a 400 naming the field (OpenAI's ``BadRequestError``): ``n`` other than 1,
``tools``, ``tool_choice``, ``functions``, ``function_call``, a
``response_format`` other than text and ``logprobs``, since ragbus answers once,
in prose, from the tenant's documents, and would otherwise ignore what the caller
relies on. Other OpenAI fields (``top_p``, ``seed``, penalties...) are ignored.
"""

import json
import uuid
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from gateway.openai_errors import OpenAIError
from gateway.request_checks import RequestBody
from schemas.conversations import MAX_HISTORY_TURNS, Turn
from schemas.generation import MAX_STOP_SEQUENCES, GenerationOptions
from schemas.queries import MAX_TOP_K

MAX_MESSAGES = 256
"""Most messages in one chat request (the last one is asked; earlier ones are history)."""
MAX_MESSAGE_CHARS = 32_768
"""Longest message, in characters: a question, or an earlier turn kept as history."""
MAX_ANSWER_TOKENS = 32_768
"""Largest ``max_tokens`` accepted; the provider may allow fewer."""


class ChatMessage(RequestBody):
    """One message; ``content`` is a string or OpenAI's list of ``{"type": "text"}`` parts,
    at most :data:`MAX_MESSAGE_CHARS` characters in all."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = Field(None, max_length=MAX_MESSAGE_CHARS)

    @field_validator("content")
    @classmethod
    def _capped(cls, value: Any) -> Any:
        if isinstance(value, list) and len(json.dumps(value)) > MAX_MESSAGE_CHARS:
            raise ValueError(f"content is over {MAX_MESSAGE_CHARS} characters")
        return value

    def text(self) -> str:
        """The text of the message (text parts joined, other parts ignored)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


def _unsupported(message: str) -> PydanticCustomError:
    return PydanticCustomError("unsupported_parameter", message)


class ChatBody(RequestBody):
    """Body of ``POST /v1/chat/completions`` (see the module doc for each field).

    At most :data:`MAX_MESSAGES` messages of at most :data:`MAX_MESSAGE_CHARS` each.
    ragbus's own fields: ``top_k`` (passages, 1-100), ``conversation_id`` (store the
    turn there) and ``cache`` (false: answer afresh).
    """

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    model: str = Field("ragbus", max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    conversation_id: uuid.UUID | None = None
    cache: bool = True
    max_tokens: int | None = Field(None, ge=1, le=MAX_ANSWER_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_ANSWER_TOKENS)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    user: str | None = Field(None, max_length=256)
    n: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int | None) -> int | None:
        if value not in (None, 1):
            raise _unsupported(f"n is {value}; ragbus writes one choice: leave n out or send 1")
        return value

    @field_validator("tools", "functions")
    @classmethod
    def _no_tools(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise _unsupported(
                "ragbus answers from your documents and calls no tools or functions; leave"
                " them out (POST /v1/retrieve returns the passages for your own tool loop)"
            )
        return value

    @field_validator("tool_choice", "function_call")
    @classmethod
    def _no_tool_choice(cls, value: Any) -> Any:
        if value not in (None, "none"):
            raise _unsupported("ragbus calls no tools; leave tool_choice out or send 'none'")
        return value

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") != "text":
            raise _unsupported(
                f"response_format {value.get('type')!r} is not supported; ragbus answers in"
                " prose with [n] citations: leave it out or send {'type': 'text'}"
            )
        return value

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool | None) -> bool | None:
        if value:
            raise _unsupported("ragbus returns no logprobs; leave logprobs out or send false")
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOP_SEQUENCES:
            raise ValueError(f"stop has {len(stops)} sequences; the limit is 4")
        if any(not s or len(s) > 256 for s in stops):
            raise ValueError("each stop sequence is 1-256 characters")
        return value

    def generation(self) -> GenerationOptions | None:
        """The LLM options this request sets, or None when it sets none."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        options = GenerationOptions(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            stop=stop or None,
            user=self.user,
        )
        set_any = any(v is not None for v in options.model_dump().values())
        return options if set_any else None

    def shapes_the_answer(self) -> bool:
        """Whether an option changes the answer's text (then the cache is bypassed)."""
        options = self.generation()
        return options is not None and (
            options.max_tokens is not None or options.temperature is not None or bool(options.stop)
        )


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (last user message) and the earlier turns, oldest first.

    Raises:
        OpenAIError: 400 when no user message has text.
    """
    users = [i for i, m in enumerate(messages) if m.role == "user" and m.text().strip()]
    if not users:
        raise OpenAIError(
            400, "messages need a user message with text", param="messages", code="invalid_value"
        )
    last = users[-1]
    turns: list[Turn] = []
    for message in messages[:last]:
        if message.role == "user" and message.text().strip():
            turns.append(Turn(question=message.text()[:8192]))
        elif message.role == "assistant" and turns and not turns[-1].answer:
            turns[-1] = Turn(question=turns[-1].question, answer=message.text())
    return messages[last].text()[:8192], turns[-MAX_HISTORY_TURNS:]
