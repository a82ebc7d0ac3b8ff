"""Declared JetStream topology: streams per event family and each service's consumer.

Every process calls :func:`ensure_streams` at start-up; it is idempotent (creates a
missing stream, updates a changed one), so services can start in any order.
Consumers are durable pull consumers: N replicas of a service bind to the same
durable name and share its work.

Numbers:
    * ``duplicate_window`` 2 min: JetStream drops a second publish with the same
      ``Nats-Msg-Id`` inside this window; every ragbus publish sets one.
    * ``max_age``: documents 7 days, chunks 1 day, queries 1 day; the durable state
      lives in Postgres and the vector store, the streams only carry work.
"""

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from schemas import subjects

log = logging.getLogger(__name__)
DAY_S = 86_400.0

DUPLICATE_WINDOW_S = 120.0


def _stream(
    name: str,
    description: str,
    subjects: list[str],
    *,
    max_age_s: float,
    retention: RetentionPolicy = RetentionPolicy.LIMITS,
    max_bytes: int | None = None,
) -> StreamConfig:
    """A file-backed stream that drops its oldest messages first and dedups publishes."""
    return StreamConfig(
        name=name,
        description=description,
        subjects=subjects,
        retention=retention,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_s,
        max_bytes=max_bytes,
        duplicate_window=DUPLICATE_WINDOW_S,
    )


DOCUMENTS_STREAM = _stream(
    "RAGBUS_DOCUMENTS",
    "Document lifecycle events and commands (document.*)",
    ["document.>"],
    max_age_s=7 * DAY_S,
)
CHUNKS_STREAM = _stream(
    "RAGBUS_CHUNKS",
    "Batches of chunks waiting to be embedded (chunks.ready.<tenant>)",
    ["chunks.>"],
    # A work queue: an acked batch is removed, so the per-subject counts of the
    # stream are exactly the work still pending per tenant (embed_svc's lanes
    # discover tenants from them), and each tenant's consumer filter is disjoint.
    retention=RetentionPolicy.WORK_QUEUE,
    max_age_s=DAY_S,
)
QUERIES_STREAM = _stream(
    "RAGBUS_QUERIES",
    "Questions, retrieved context and finished answers; answer.delta stays core NATS",
    [
        subjects.QUERY_REQUESTED,
        subjects.CONTEXT_RETRIEVED,
        subjects.ANSWER_READY,
        subjects.ANSWER_FAILED,
    ],
    max_age_s=DAY_S,
)
DLQ_STREAM = _stream(
    "RAGBUS_DLQ",
    "Dead letters: messages ragbus gave up on, with the reason (dlq.<subject>)",
    ["dlq.>"],
    # Kept 30 days for an operator to read and replay (``ragbus dlq``); at 1 GiB the
    # oldest go first, so a flood of poison cannot stop new ones being recorded.
    max_age_s=30 * DAY_S,
    max_bytes=1024**3,
)
MAX_DELIVERIES_ADVISORIES = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"
"""Published by the server when a consumer stops redelivering a message by itself."""
ADVISORIES_STREAM = _stream(
    "RAGBUS_ADVISORIES",
    "JetStream max-deliveries advisories, turned into dead letters by ragbus",
    [MAX_DELIVERIES_ADVISORIES],
    max_age_s=7 * DAY_S,
)
STREAMS = (
    DOCUMENTS_STREAM,
    CHUNKS_STREAM,
    QUERIES_STREAM,
    DLQ_STREAM,
    ADVISORIES_STREAM,
)


def stream_for(subject: str) -> str:
    """Name of the stream that stores ``subject``.

    Raises:
        KeyError: if no stream captures the subject (it is core NATS only).
    """
    family = subject.split(".", 1)[0]
    for config in STREAMS:
        for pattern in config.subjects or []:
            if pattern == subject or (pattern.endswith(".>") and pattern[:-2] == family):
                assert config.name is not None
                return config.name
    raise KeyError(f"no JetStream stream captures subject {subject!r}")


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A service's durable consumer on one subject.

    Attributes:
        durable: Durable name shared by every replica of the service.
        stream: Stream name.
        subject: Filter subject.
        ack_wait_s: Seconds before an un-acked message is redelivered; long work
            extends it with ``in_progress`` heartbeats.
        max_deliver: Deliveries before JetStream stops redelivering.
        max_ack_pending: Messages in flight per durable, across replicas.
        inactive_threshold_s: Seconds after which the server deletes the durable
            when no replica pulls from it (``None``: never); used for per-tenant
            consumers, which come and go with the tenants' work.
    """

    durable: str
    stream: str
    subject: str
    ack_wait_s: float
    max_deliver: int = 5
    max_ack_pending: int = 256
    inactive_threshold_s: float | None = None

    def config(self) -> ConsumerConfig:
        """The nats-py consumer config: explicit ack, the durable name and limits."""
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
            filter_subject=self.subject,
            inactive_threshold=self.inactive_threshold_s,
        )


def consumer(durable: str, subject: str, *, ack_wait_s: float, **kwargs: int) -> ConsumerSpec:
    """Build a :class:`ConsumerSpec` for ``subject`` in the stream that stores it."""
    return ConsumerSpec(durable, stream_for(subject), subject, ack_wait_s, **kwargs)


async def ensure_streams(js: JetStreamContext) -> None:
    """Create or update every ragbus stream; safe to call from every process at start.

    JetStream cannot change a stream's retention in place. A stream declared with
    another retention (``RAGBUS_CHUNKS`` before it became a work queue) is deleted
    and created again: it only carries regenerable work, and documents whose
    batches it held are re-published by ingest_svc's sweeper once they are stale.
    """
    for config in STREAMS:
        assert config.name is not None
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            continue
        if info.config.retention != config.retention:
            log.warning(
                "stream retention changed: re-creating it",
                extra={"stream": config.name, "retention": str(config.retention)},
            )
            await js.delete_stream(config.name)
            await js.add_stream(config)
        else:
            await js.update_stream(config)
