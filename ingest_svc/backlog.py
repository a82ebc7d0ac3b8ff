"""Whether a stale-looking document's work may still be waiting in a JetStream queue.

Under a backlog a document can sit in ``uploaded`` (its ``document.uploaded`` not yet
delivered) or ``embedding`` (its ``chunks.ready.<tenant>`` batches not yet pulled) for
longer than the sweeper's ``stale_after_s`` without anything being lost. Re-publishing
it then parses and embeds it twice. So the sweeper first asks the queues: while the
ingest consumer has messages pending, or the tenant's chunk lane does, the document
is not rescued; once they have drained, a document still stale really lost its work.
"""

from collections.abc import Callable
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from deploy.jetstream import stream_for
from ragbus.stores.documents import DocumentRecord
from schemas import DocumentStatus
from schemas import subjects as s

INGEST_DURABLE = "ingest-svc"
"""ingest_svc's durable consumer of ``document.uploaded`` (see ``ingest_svc.handlers``)."""


class Backlog(Protocol):
    """Port: a snapshot of the queues, taken once per sweep."""

    async def refresh(self) -> None:
        """Read the queues' current depth."""
        ...

    def may_hold(self, record: DocumentRecord) -> bool:
        """Whether the document's pending work may still be queued (do not rescue yet)."""
        ...


class JetStreamBacklog:
    """:class:`Backlog` read from JetStream: two requests per sweep.

    Args:
        jetstream: Returns the connected JetStream context (the broker connects
            after the services are built, so it is looked up at sweep time).
    """

    def __init__(self, jetstream: Callable[[], JetStreamContext]) -> None:
        self._jetstream = jetstream
        self._uploads = 0
        self._chunks: dict[str, int] = {}

    async def refresh(self) -> None:
        """Read ingest's pending and in-flight uploads and the pending batches per tenant.

        A missing ingest consumer counts as empty: no ingest_svc has ever run, and a
        rescue is what would get the document going once one does.

        Raises:
            nats.errors.Error: JetStream did not answer (the sweep is skipped).
        """
        js = self._jetstream()
        try:
            info = await js.consumer_info(stream_for(s.DOCUMENT_UPLOADED), INGEST_DURABLE)
        except NotFoundError:
            self._uploads = 0
        else:
            self._uploads = info.num_pending + info.num_ack_pending
        lanes = await js.stream_info(
            stream_for(s.CHUNKS_READY + ".x"), subjects_filter=f"{s.CHUNKS_READY}.*"
        )
        self._chunks = dict(lanes.state.subjects or {})

    def may_hold(self, record: DocumentRecord) -> bool:
        """``uploaded``/``parsing``: uploads are queued; ``embedding``: its tenant's lane is."""
        if record.status in (DocumentStatus.UPLOADED, DocumentStatus.PARSING):
            return self._uploads > 0
        if record.status == DocumentStatus.EMBEDDING:
            return self._chunks.get(s.chunks_ready_for(record.tenant_id), 0) > 0
        return False
