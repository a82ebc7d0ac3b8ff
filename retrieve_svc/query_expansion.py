"""The query-expansion port: an LLM rewrites the question or drafts an answer to search with.

``multi_query`` asks for N alternative search queries in one call (RAG-Fusion,
Raudaschl 2023); ``hyde`` asks for a short passage that would answer the question
(HyDE, Gao et al. 2022), whose embedding is searched instead of the question's.
The one adapter calls the chat model through :class:`~ragbus.llm.client.LlmClient`,
with generate_svc's resilience (retries honouring ``Retry-After``, fallback models,
one deadline), so any provider litellm supports works.
"""

import logging
import re
from typing import Protocol

from ragbus.llm.calls import GenerationStats
from ragbus.llm.client import LlmClient
from ragbus.telemetry import stage

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 8192
"""Longest query searched, as long as a question may be."""

MULTI_QUERY_PROMPT = """\
You write search queries for a document search engine. Rewrite the user's question \
into {n} different search queries that could each find passages answering it: vary \
the wording, use synonyms and the technical terms a document would use, and spell out \
what the question leaves implicit. Keep the question's language. Reply with exactly \
{n} lines, one query per line, without numbering or any other text."""

HYDE_PROMPT = """\
Write a short passage, three to five sentences, that answers the user's question the \
way a reference document or a paper would. State it as fact and do not say that it \
is hypothetical; if you are unsure, still write a plausible passage in the right \
vocabulary. Reply with the passage only."""

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.):]|q\d*[.:)])\s*", re.IGNORECASE)


class QueryExpander(Protocol):
    """Asks a language model for search text derived from a question.

    Attributes:
        name: The model, for logs.
    """

    name: str

    async def rewrite(self, question: str, n: int) -> list[str]:
        """Up to ``n`` alternative queries for ``question``, none equal to it.

        Raises:
            PermanentError: No model answered within the retries and the deadline.
        """
        ...

    async def draft(self, question: str) -> str:
        """A short hypothetical passage answering ``question`` ("" if the model sent none).

        Raises:
            PermanentError: No model answered within the retries and the deadline.
        """
        ...


def parse_queries(reply: str, question: str, n: int) -> list[str]:
    """The distinct queries in a model's reply, at most ``n``.

    Args:
        reply: The model's text, one query per line; numbering, bullets and quotes
            that models add anyway are removed.
        question: The original question; a line repeating it is dropped (it is
            searched anyway).
        n: Most queries kept, first ones first.

    Returns:
        Non-empty queries of at most :data:`MAX_QUERY_CHARS` characters.
    """
    seen = {question.strip().casefold()}
    queries: list[str] = []
    for line in reply.splitlines():
        query = _BULLET.sub("", line).strip().strip("\"'\u201c\u201d`").strip()
        key = query.casefold()
        if not query or key in seen:
            continue
        seen.add(key)
        queries.append(query[:MAX_QUERY_CHARS])
        if len(queries) == n:
            break
    return queries


class LiteLLMQueryExpander:
    """:class:`QueryExpander` through litellm, one non-streamed call per expansion.

    Args:
        llm: The chat model calls: models, provider, timeout, temperature, the
            longest reply (N queries, or the drafted passage), retries and the
            deadline of all attempts of one expansion.

    Attributes:
        name: The preferred model, for logs.
        models: The models in the order they are tried.
    """

    def __init__(self, llm: LlmClient) -> None:
        self.name = llm.model
        self.models = llm.models
        self._llm = llm

    async def rewrite(self, question: str, n: int) -> list[str]:
        """See :meth:`QueryExpander.rewrite`."""
        reply = await self._complete("multi_query", MULTI_QUERY_PROMPT.format(n=n), question)
        queries = parse_queries(reply, question, n)
        if len(queries) < n:
            log.warning("fewer rewrites than asked", extra={"asked": n, "got": len(queries)})
        return queries

    async def draft(self, question: str) -> str:
        """See :meth:`QueryExpander.draft`."""
        return (await self._complete("hyde", HYDE_PROMPT, question)).strip()

    async def _complete(self, purpose: str, system: str, question: str) -> str:
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": question.strip()},
        ]
        self._llm.warm_up()  # the first call imports litellm (seconds): not the span's time
        stats = GenerationStats()
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": self.name}
        with stage(f"expand_{purpose}", attributes):
            reply = await self._llm.complete(messages, stats)
        log.info(
            "query expanded",
            extra={"purpose": purpose, "model": stats.model, "attempts": stats.attempts},
        )
        return reply
