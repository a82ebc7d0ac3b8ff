"""Conversation events: turn a follow-up question into one that stands alone.

Sent with NATS request-reply on ``question.condense`` (core NATS, served by
generate_svc), before the gateway publishes ``query.requested`` for a follow-up.
"""

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import Envelope

MAX_HISTORY_TURNS = 20
"""Most earlier turns a condense request may carry."""


class Turn(BaseModel):
    """One earlier exchange of a conversation.

    Attributes:
        question: What the user asked, as typed.
        answer: What ragbus answered, with its ``[n]`` markers; empty if it failed.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    question: str = Field(min_length=1, max_length=8192)
    answer: str = ""


class CondenseQuestion(Envelope):
    """Request: rewrite ``question`` so it can be answered without ``history``.

    Attributes:
        question: The follow-up as the user typed it, 1-8192 characters.
        history: Earlier turns, oldest first, at most :data:`MAX_HISTORY_TURNS`.
    """

    question: str = Field(min_length=1, max_length=8192)
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)


class QuestionCondensed(Envelope):
    """Reply to :class:`CondenseQuestion`.

    Attributes:
        question: The standalone question; the follow-up unchanged when there was
            no history or the rewrite failed.
        method: ``llm`` (the model rewrote it), ``combined`` (offline: the previous
            question and the follow-up joined) or ``unchanged``.
        error: Why the model could not rewrite it, when ``method`` is ``unchanged``
            although there was history.
    """

    question: str
    method: str = "unchanged"
    error: str | None = None
