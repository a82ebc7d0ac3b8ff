"""The two requests retrieve_svc answers: a query's context, and passages on their own.

``query.requested`` (JetStream): the query is recorded, its passages retrieved and
``context.retrieved`` published for generate_svc; a permanent failure marks the
query failed and publishes ``answer.failed``, which ends the client's wait.

``passages.retrieve`` (core NATS request-reply): the passages are the reply; a
failure is a reply too, with the reason, since there is nothing to redeliver.
"""

from ragbus.bus import Publisher
from ragbus.errors import PermanentError
from ragbus.stores.queries import QueryRepository
from retrieve_svc.service import RetrieveService
from schemas import (
    AnswerFailed,
    ContextRetrieved,
    PassagesRetrieved,
    QueryRequested,
    RetrievePassages,
)
from schemas import subjects as s


class RetrieveRequests:
    """Answers ``query.requested`` and ``passages.retrieve`` with :class:`RetrieveService`.

    Args:
        service: The retrieval logic.
        queries: The query history (rows the gateway created as ``pending``).
        publisher: Publishes ``context.retrieved`` and ``answer.failed``.
    """

    def __init__(
        self, service: RetrieveService, queries: QueryRepository, publisher: Publisher
    ) -> None:
        self._service = service
        self._queries = queries
        self._publisher = publisher

    async def retrieve_context(self, event: QueryRequested) -> None:
        """Record the query, retrieve its passages and publish ``context.retrieved``.

        Idempotent: the row is created if missing, and the publish is deduplicated
        by ``Nats-Msg-Id`` ``<query_id>:context``.

        Raises:
            PermanentError: The request can never be answered (a bad technique).
            RetryableError: A store or the model is unavailable for now.
        """
        await self._queries.create(
            event.tenant_id,
            event.query_id,
            question=event.question,
            top_k=event.top_k,
            user_id=event.user_id,
        )
        passages, timings = await self._service.retrieve(
            event.tenant_id, event.question, event.top_k, event
        )
        context = ContextRetrieved(
            tenant_id=event.tenant_id,
            query_id=event.query_id,
            question=event.question,
            passages=passages,
            user_id=event.user_id,
            timings=timings,
            generation=event.generation,
            question_embedding=self._service.question_embedding(event.question),
        )
        await self._publisher.publish(
            context, s.CONTEXT_RETRIEVED, msg_id=f"{event.query_id}:context"
        )

    async def fail(self, event: QueryRequested, exc: PermanentError) -> None:
        """Mark the query failed with the reason and publish ``answer.failed``."""
        await self._queries.fail(event.tenant_id, event.query_id, code=exc.code, error=str(exc))
        failed = AnswerFailed(
            tenant_id=event.tenant_id, query_id=event.query_id, code=exc.code, error=str(exc)
        )
        await self._publisher.publish(failed, s.ANSWER_FAILED, msg_id=f"{event.query_id}:failed")

    async def retrieve_passages(self, request: RetrievePassages) -> PassagesRetrieved:
        """The passages for ``request``, or the reason there are none; never raises."""
        try:
            passages, timings = await self._service.retrieve(
                request.tenant_id, request.question, request.top_k, request
            )
        except Exception as exc:  # the reply carries the reason; nothing to redeliver
            # A permanent error's message is written for the client (the gateway shows
            # it for request errors such as ``unknown_technique``); others name the type.
            permanent = isinstance(exc, PermanentError)
            return PassagesRetrieved(
                tenant_id=request.tenant_id,
                passages=[],
                error=str(exc) if permanent else f"{type(exc).__name__}: {exc}",
                error_code=getattr(exc, "code", None),
            )
        return PassagesRetrieved(tenant_id=request.tenant_id, passages=passages, timings=timings)
