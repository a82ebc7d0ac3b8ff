"""Make a follow-up question stand alone, so retrieval finds what it refers to.

"And how do I kill it?" retrieves nothing useful on its own. With an LLM the
question is rewritten from the conversation; offline it is joined to the previous
question, which carries the topic ("How do I spawn a child process? And how do I
kill it?") into both the query embedding and the extractive answerer's scoring.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from ragbus.errors import RagbusError
from schemas.conversations import CondenseQuestion, QuestionCondensed, Turn

log = logging.getLogger(__name__)

CONDENSE_TURNS = 4
"""Earlier turns shown to the model: enough for pronouns and topic, a short prompt."""

MAX_QUESTION_CHARS = 8192
"""Longest question ``query.requested`` accepts."""

ANSWER_EXCERPT_CHARS = 600
"""Characters of each earlier answer shown to the model (about 150 tokens)."""

DEFAULT_CONDENSE_TIMEOUT_S = 20.0
"""Longest wait for the model's rewrite, in seconds: under the gateway's 30 s wait
for the reply (``retrieve_timeout_s``), so a slow model means the offline rewrite,
not a 504."""

CONDENSE_PROMPT = """\
Rewrite the user's follow-up question as one standalone question that can be \
understood without the conversation. Keep its language and meaning; replace pronouns \
and references ("it", "that one") with what they refer to. Reply with the question \
only, no preamble."""

Complete = Callable[[list[dict[str, str]]], Awaitable[str]]
"""Sends chat messages to a model and returns its reply text."""


def combine_with_previous(question: str, history: Sequence[Turn]) -> str:
    """The offline rewrite: the previous question, then the follow-up.

    Args:
        question: The follow-up as typed.
        history: Earlier turns, oldest first.

    Returns:
        ``"<previous question> <question>"``, the previous question cut so the whole
        stays within 8192 characters (the longest question an event carries);
        ``question`` alone without history.
    """
    follow_up = question.strip()
    if not history:
        return follow_up
    room = MAX_QUESTION_CHARS - len(follow_up) - 1
    previous = history[-1].question.strip()[: max(room, 0)]
    return f"{previous} {follow_up}" if previous else follow_up


def condense_messages(question: str, history: Sequence[Turn]) -> list[dict[str, str]]:
    """Chat messages asking a model to rewrite ``question`` with the last turns.

    Args:
        question: The follow-up as typed.
        history: Earlier turns, oldest first; the last :data:`CONDENSE_TURNS` are used,
            each answer cut to :data:`ANSWER_EXCERPT_CHARS`.

    Returns:
        A system message with the instructions and a user message with the
        conversation and the follow-up.
    """
    lines = []
    for turn in history[-CONDENSE_TURNS:]:
        lines.append(f"User: {turn.question.strip()}")
        if turn.answer:
            lines.append(f"Assistant: {turn.answer.strip()[:ANSWER_EXCERPT_CHARS]}")
    conversation = "\n".join(lines)
    user = f"Conversation:\n{conversation}\n\nFollow-up question: {question.strip()}"
    return [
        {"role": "system", "content": CONDENSE_PROMPT},
        {"role": "user", "content": user},
    ]


class Condenser:
    """Rewrites follow-ups with a model when one is configured, else offline.

    Args:
        complete: The LLM call (see :meth:`ragbus.llm.client.LlmClient.complete`);
            None for the offline rewrite.
        timeout_s: Longest wait for the model, in seconds.
    """

    def __init__(
        self, complete: Complete | None = None, *, timeout_s: float = DEFAULT_CONDENSE_TIMEOUT_S
    ) -> None:
        self._complete = complete
        self._timeout_s = timeout_s

    async def condense(self, question: str, history: Sequence[Turn]) -> tuple[str, str, str | None]:
        """Rewrite ``question`` to stand alone.

        Args:
            question: The follow-up as typed.
            history: Earlier turns, oldest first.

        Returns:
            ``(question, method, error)``: ``method`` is ``unchanged`` (no history,
            or the model failed: ``error`` says why, and the offline rewrite is used
            so the turn still carries its topic), ``llm`` or ``combined``.
        """
        if not history:
            return question.strip(), "unchanged", None
        if self._complete is None:
            return combine_with_previous(question, history), "combined", None
        try:
            async with asyncio.timeout(self._timeout_s):
                rewritten = (await self._complete(condense_messages(question, history))).strip()
        except TimeoutError:
            error = f"llm_timeout: no rewrite within {self._timeout_s:g} s"
            return combine_with_previous(question, history), "unchanged", error
        except RagbusError as exc:
            log.warning("condense failed, combining offline", extra={"code": exc.code})
            return combine_with_previous(question, history), "unchanged", f"{exc.code}: {exc}"
        # A model that answers instead of rewriting writes paragraphs; keep the first
        # line, without the quotes some models put around a rewritten question.
        first_line = rewritten.splitlines()[0].strip().strip("\"'“”") if rewritten else ""
        if not first_line:
            return combine_with_previous(question, history), "combined", None
        return first_line[:MAX_QUESTION_CHARS], "llm", None

    async def condense_request(self, request: CondenseQuestion) -> QuestionCondensed:
        """Answer a ``question.condense`` request (see :meth:`condense`); never raises."""
        question, method, error = await self.condense(request.question, request.history)
        return QuestionCondensed(
            tenant_id=request.tenant_id, question=question, method=method, error=error
        )
