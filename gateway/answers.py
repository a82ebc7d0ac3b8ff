"""Routes answer events from NATS to the HTTP requests waiting for them."""

import asyncio
import contextlib
from collections.abc import Iterator
from uuid import UUID

from faststream.nats import NatsRouter

from schemas import AnswerDelta, AnswerFailed, AnswerReady
from schemas import subjects as s

AnswerEvent = AnswerDelta | AnswerReady | AnswerFailed


class AnswerHub:
    """Fans ``answer.delta``/``answer.ready``/``answer.failed`` out to local waiters.

    Every gateway replica subscribes (core NATS, no queue group) and keeps only the
    events of queries it is serving; the rest are dropped at once.
    """

    def __init__(self) -> None:
        self._waiters: dict[UUID, asyncio.Queue[AnswerEvent]] = {}

    @contextlib.contextmanager
    def watch(self, query_id: UUID) -> Iterator["asyncio.Queue[AnswerEvent]"]:
        """Register a queue for ``query_id``'s events; register before publishing."""
        queue: asyncio.Queue[AnswerEvent] = asyncio.Queue()
        self._waiters[query_id] = queue
        try:
            yield queue
        finally:
            self._waiters.pop(query_id, None)

    def deliver(self, event: AnswerEvent) -> None:
        """Hand ``event`` to the waiter of its query, if this replica has one."""
        queue = self._waiters.get(event.query_id)
        if queue is not None:
            queue.put_nowait(event)

    def router(self) -> NatsRouter:
        """Core NATS subscriptions feeding :meth:`deliver` (nothing to ack).

        ``no_reply``: ``answer.ready`` and ``answer.failed`` are published to JetStream,
        whose publisher waits on a reply inbox for the stream's ack. A FastStream core
        subscriber answers reply inboxes by default, and its empty reply could reach
        the publisher before the real ack.
        """
        router = NatsRouter()

        @router.subscriber(s.ANSWER_DELTA, no_reply=True)
        async def on_delta(event: AnswerDelta) -> None:
            self.deliver(event)

        @router.subscriber(s.ANSWER_READY, no_reply=True)
        async def on_ready(event: AnswerReady) -> None:
            self.deliver(event)

        @router.subscriber(s.ANSWER_FAILED, no_reply=True)
        async def on_failed(event: AnswerFailed) -> None:
            self.deliver(event)

        return router
