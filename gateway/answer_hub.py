"""Routes answer events from NATS to the HTTP requests waiting for them, and keeps
recent streams so a client that reconnects can resume."""

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from faststream.nats import NatsRouter

from schemas import AnswerDelta, AnswerFailed, AnswerReady
from schemas import subjects as s

AnswerEvent = AnswerDelta | AnswerReady | AnswerFailed

DEFAULT_RETENTION_S = 900.0
"""How long a replica keeps the deltas of an answer in memory: 15 minutes, far
longer than an answer streams (the gateway waits at most 180 s) plus a reconnect.
Finished answers stay resumable after that from Postgres (``queries.deltas``)."""

DEFAULT_MAX_STREAMS = 2_000
"""Most answers kept in memory; at ~2 KB of text each, about 4 MB per replica."""


@dataclass
class StreamBuffer:
    """What this replica saw of one answer.

    Attributes:
        deltas: Text by ``seq``; the first text seen for a seq is kept (a redelivered
            generation restarts at 0 and is not mixed in).
        final: ``answer.ready`` or ``answer.failed`` once seen.
        started: ``time.monotonic()`` of the first event, for the retention window.
    """

    deltas: dict[int, str] = field(default_factory=dict)
    final: AnswerReady | AnswerFailed | None = None
    started: float = field(default_factory=time.monotonic)


class AnswerHub:
    """Fans ``answer.delta``/``answer.ready``/``answer.failed`` out to local waiters.

    Every gateway replica subscribes (core NATS, no queue group), so every replica
    sees every answer. Each keeps the last ``max_streams`` answers for
    ``retention_s`` seconds, so a client may reconnect to any replica and resume.

    Args:
        retention_s: Seconds an answer's deltas stay in memory.
        max_streams: Most answers kept; the oldest go first.
    """

    def __init__(
        self, *, retention_s: float = DEFAULT_RETENTION_S, max_streams: int = DEFAULT_MAX_STREAMS
    ) -> None:
        self._waiters: dict[UUID, list[asyncio.Queue[AnswerEvent]]] = {}
        self._buffers: OrderedDict[UUID, StreamBuffer] = OrderedDict()
        self._retention_s = retention_s
        self._max_streams = max_streams

    @contextlib.contextmanager
    def watch(self, query_id: UUID) -> Iterator["asyncio.Queue[AnswerEvent]"]:
        """Register a queue for ``query_id``'s events; register before publishing.

        Several requests may watch one query (the original stream and a resumed one).
        """
        queue: asyncio.Queue[AnswerEvent] = asyncio.Queue()
        self._waiters.setdefault(query_id, []).append(queue)
        try:
            yield queue
        finally:
            queues = self._waiters.get(query_id, [])
            if queue in queues:
                queues.remove(queue)
            if not queues:
                self._waiters.pop(query_id, None)

    def snapshot(self, query_id: UUID) -> StreamBuffer | None:
        """A copy of what this replica kept of ``query_id``, or None if nothing (any more)."""
        self._expire()
        buffer = self._buffers.get(query_id)
        if buffer is None:
            return None
        return StreamBuffer(dict(buffer.deltas), buffer.final, buffer.started)

    def deliver(self, event: AnswerEvent) -> None:
        """Keep ``event`` and hand it to the waiters of its query on this replica."""
        self._record(event)
        for queue in self._waiters.get(event.query_id, []):
            queue.put_nowait(event)

    def _record(self, event: AnswerEvent) -> None:
        buffer = self._buffers.get(event.query_id)
        if buffer is None:
            buffer = self._buffers[event.query_id] = StreamBuffer()
            self._expire()
        if isinstance(event, AnswerDelta):
            buffer.deltas.setdefault(event.seq, event.text)
        elif buffer.final is None:
            buffer.final = event

    def _expire(self) -> None:
        horizon = time.monotonic() - self._retention_s
        while self._buffers:
            oldest = next(iter(self._buffers.values()))
            if len(self._buffers) <= self._max_streams and oldest.started >= horizon:
                break
            self._buffers.popitem(last=False)

    def router(self) -> NatsRouter:
        """Core NATS subscriptions feeding :meth:`deliver` (nothing to ack).

        ``no_reply``: ``answer.ready`` and ``answer.failed`` are published to JetStream,
        whose publisher waits on a reply inbox for the stream's ack. A FastStream core
        subscriber answers reply inboxes by default, and its empty reply could reach
        the publisher before the real ack.
        """
        router = NatsRouter()

        @router.subscriber(s.every_tenant(s.ANSWER_DELTA), no_reply=True)
        async def on_delta(event: AnswerDelta) -> None:
            self.deliver(event)

        @router.subscriber(s.every_tenant(s.ANSWER_READY), no_reply=True)
        async def on_ready(event: AnswerReady) -> None:
            self.deliver(event)

        @router.subscriber(s.every_tenant(s.ANSWER_FAILED), no_reply=True)
        async def on_failed(event: AnswerFailed) -> None:
            self.deliver(event)

        return router
