"""The query-expansion port: an LLM rewrites the question or drafts an answer to search with.

``multi_query`` asks for N alternative search queries in one call (RAG-Fusion,
Raudaschl 2023); ``hyde`` asks for a short passage that would answer the question
(HyDE, Gao et al. 2022), whose embedding is searched instead of the question's.
The one adapter calls litellm with generate_svc's resilience
(:func:`ragbus.llm.calls.with_fallback`: retries honouring ``Retry-After``, fallback
models, one deadline), so any provider litellm supports works.
"""

import logging
import os
import re
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from ragbus.llm.calls import GenerationStats, RetryPolicy, with_fallback
from ragbus.llm.errors import classify_error
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


class LitellmQueryExpander:
    """:class:`QueryExpander` through ``litellm.acompletion`` (non-streamed).

    litellm's own retries are off; :func:`~ragbus.llm.calls.with_fallback` retries,
    as in generate_svc. Fallback models share ``api_base`` and ``api_key``.

    Args:
        model: Any litellm model string, e.g. ``openai/gpt-4o-mini``.
        fallback_models: Models tried in order when ``model`` keeps failing.
        api_base: Provider URL (Ollama, vLLM, any OpenAI-compatible server).
        api_key: Provider key; ``None`` lets litellm read the provider's variable.
        timeout_s: Seconds for one call.
        temperature: Sampling temperature.
        max_tokens: Longest reply in tokens (N queries, or the drafted passage).
        policy: Retries, backoff and the deadline of all attempts of one expansion.
    """

    def __init__(
        self,
        model: str,
        *,
        fallback_models: Sequence[str] = (),
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        temperature: float = 0.2,
        max_tokens: int = 256,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.name = model
        self.models = [model, *(m for m in fallback_models if m != model)]
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._policy = policy or RetryPolicy(max_retries=1, deadline_s=20.0)

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
        # Must precede the first litellm import: otherwise it downloads a price map.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm  # lazy: importing litellm takes seconds

        litellm.suppress_debug_info = True  # no help banner on stdout per failed call

        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": question.strip()},
        ]

        async def attempt(model: str, remaining_s: float) -> AsyncIterator[str]:
            response = await litellm.acompletion(
                model=model,
                messages=messages,
                timeout=min(self._timeout_s, remaining_s),
                api_base=self._api_base,
                api_key=self._api_key,
                temperature=self._temperature,
                max_tokens=self._max_tokens,
                num_retries=0,
                max_retries=0,
            )
            yield str(response.choices[0].message.content or "")

        stats = GenerationStats()
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": self.name}
        with stage(f"expand_{purpose}", attributes):
            pieces = with_fallback(self.models, attempt, classify_error, self._policy, stats)
            reply = "".join([piece async for piece in pieces])
        log.info(
            "query expanded",
            extra={"purpose": purpose, "model": stats.model, "attempts": stats.attempts},
        )
        return reply
