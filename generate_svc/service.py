"""Generate logic: stream an answer over retrieved passages, then cite it."""

import time

from generate_svc.answerers import Answerer, QuestionEmbeddingAnswerer, answerer_for
from generate_svc.citations import build_citations, confidence
from ragbus.bus import Publisher
from ragbus.errors import PermanentError
from ragbus.llm.calls import GenerationStats
from ragbus.stores.queries import QueryRepository
from schemas import AnswerDelta, AnswerFailed, AnswerReady, ContextRetrieved, Timings
from schemas import subjects as s


class GenerateService:
    """Answers ``context.retrieved`` with ``answer.delta`` pieces and ``answer.ready``.

    Args:
        answerer: The LLM (litellm) or the offline extractive answerer.
        queries: Query history store.
        publisher: Event publisher.
    """

    def __init__(self, answerer: Answerer, queries: QueryRepository, publisher: Publisher) -> None:
        self._answerer = answerer
        self._queries = queries
        self._publisher = publisher

    async def answer(self, context: ContextRetrieved) -> None:
        """Stream the answer, then publish it with citations and store it.

        A redelivered context streams again (deltas restart at ``seq`` 0) but
        ``answer.ready`` is de-duplicated by its ``Nats-Msg-Id``.

        Raises:
            RetryableError: Postgres or NATS is unavailable (the bus redelivers).
            PermanentError: no LLM answered within its retries, fallbacks and
                deadline, or the provider refused the request (see
                :func:`ragbus.llm.calls.with_fallback`).
        """
        started = time.perf_counter()
        parts: list[str] = []
        stats = GenerationStats()
        answerer = answerer_for(self._answerer, context.generation)
        known = context.question_embedding
        if known is not None and isinstance(answerer, QuestionEmbeddingAnswerer):
            answerer.remember_question(context.question, known)
        async for text in answerer.stream(context.question, context.passages, stats):
            if not text:
                continue
            await self._publisher.publish(
                AnswerDelta(
                    tenant_id=context.tenant_id,
                    query_id=context.query_id,
                    seq=len(parts),
                    text=text,
                ),
                s.ANSWER_DELTA,
            )
            parts.append(text)
        answer = "".join(parts)
        citations = build_citations(answer, context.passages)
        generate_ms = (time.perf_counter() - started) * 1000
        timings = Timings(
            embed_ms=context.timings.embed_ms,
            search_ms=context.timings.search_ms,
            retrieve_ms=context.timings.retrieve_ms,
            generate_ms=generate_ms,
        )
        ready = AnswerReady(
            tenant_id=context.tenant_id,
            query_id=context.query_id,
            question=context.question,
            answer=answer,
            citations=citations,
            model=stats.model or answerer.model,
            found=bool(citations),
            timings=timings,
            confidence=confidence(citations),
            usage=stats.usage(),
        )
        await self._queries.complete(
            context.tenant_id,
            context.query_id,
            answer=answer,
            citations=[c.model_dump(mode="json") for c in citations],
            timings=timings.model_dump(mode="json", exclude_none=True),
            model=ready.model,
            found=ready.found,
            deltas=parts,
            confidence=ready.confidence,
            usage=ready.usage.model_dump(mode="json") if ready.usage else None,
        )
        await self._publisher.publish(ready, s.ANSWER_READY, msg_id=f"{context.query_id}:answer")

    async def fail(self, context: ContextRetrieved, exc: PermanentError) -> None:
        """Record the query's failure and publish ``answer.failed`` with the reason."""
        tenant_id, query_id = context.tenant_id, context.query_id
        await self._queries.fail(tenant_id, query_id, code=exc.code, error=str(exc))
        await self._publisher.publish(
            AnswerFailed(tenant_id=tenant_id, query_id=query_id, code=exc.code, error=str(exc)),
            s.ANSWER_FAILED,
            msg_id=f"{query_id}:failed",
        )
