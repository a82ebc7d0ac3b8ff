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
    * replicas and storage come from :class:`JetStreamSettings`
      (``RAGBUS_JETSTREAM_REPLICAS``, ``RAGBUS_JETSTREAM_STORAGE``): R1 on one
      server, R3 in a three-node cluster, so that every stream survives the loss of
      a node. Consumers inherit their stream's replica count. docs/delivery.md says
      which stream needs what, and why.
"""

import dataclasses
import logging
from dataclasses import dataclass
from typing import Literal

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
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import subjects

log = logging.getLogger(__name__)
DAY_S = 86_400.0

DUPLICATE_WINDOW_S = 120.0


class JetStreamSettings(BaseSettings):
    """How every ragbus stream is stored and replicated (``RAGBUS_JETSTREAM_*``).

    Attributes:
        replicas: Copies of each stream (and of its consumers) kept by the cluster:
            1 on a single server, 3 in a three-node cluster (a stream then survives
            one node's loss; JetStream allows at most 5).
        storage: ``file`` (survives a restart; the default and the only choice for
            a deployment) or ``memory`` (throwaway test setups).
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_JETSTREAM_", extra="ignore")

    replicas: int = Field(1, ge=1, le=5)
    storage: Literal["file", "memory"] = "file"


class TopologyError(RuntimeError):
    """A declared stream cannot be applied to the server as it is."""


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
    "Document lifecycle events and commands (document.*), index rebuilds (index.*)",
    ["document.>", "index.>"],
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
        f"{subjects.QUERY_REQUESTED}.>",
        subjects.CONTEXT_RETRIEVED,
        f"{subjects.ANSWER_READY}.>",
        f"{subjects.ANSWER_FAILED}.>",
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

    Args:
        subject: A concrete subject (``query.requested.acme``), a subscription with
            wildcards (``document.uploaded.*``), or a family of
            :mod:`schemas.subjects` (``query.requested``), which stands for its
            tenants' subjects.

    Raises:
        KeyError: if no stream captures the subject (it is core NATS only).
    """
    probe = subjects.every_tenant(subject).replace("*", "t")
    for config in STREAMS:
        for pattern in config.subjects or []:
            if subjects.matches(pattern, probe):
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


def streams(settings: JetStreamSettings | None = None) -> tuple[StreamConfig, ...]:
    """Every ragbus stream with the replica count and storage of ``settings``."""
    settings = settings or JetStreamSettings()
    storage = StorageType.FILE if settings.storage == "file" else StorageType.MEMORY
    return tuple(
        dataclasses.replace(config, num_replicas=settings.replicas, storage=storage)
        for config in STREAMS
    )


# The durables each scaled service binds. The services import these names, and
# KEDA's ScaledObjects are generated from BACKLOGS (ragbus_tools/k8s_scaling.py),
# so an autoscaler can never watch a consumer no service reads.
INGEST_DURABLE = "ingest-svc"
"""ingest_svc's durable on ``document.uploaded``, shared by its replicas."""
EMBED_LANE_PREFIX = "embed-svc"
"""Prefix of embed_svc's per-tenant lane durables, ``embed-svc-<hash of subject>``."""
RETRIEVE_DURABLE = "retrieve-svc"
"""retrieve_svc's durable on ``query.requested``."""
GENERATE_DURABLE = "generate-svc"
"""generate_svc's durable on ``context.retrieved``."""


@dataclass(frozen=True, slots=True)
class Backlog:
    """Where the pending work of a service that scales on it is counted.

    Attributes:
        service: The service (``ingest``, ``embed``, ``retrieve``, ``generate``).
        stream: The stream that holds its work.
        durable: The durable it binds; its pending plus unacknowledged messages are
            the backlog. ``None`` for embed_svc, whose durables are per-tenant lanes
            that come and go: there the backlog is the work-queue stream's message
            count (an acked batch is removed, so what is left is exactly the work).
    """

    service: str
    stream: str
    durable: str | None


BACKLOGS = (
    Backlog("ingest", stream_for(subjects.DOCUMENT_UPLOADED), INGEST_DURABLE),
    Backlog("embed", stream_for(subjects.CHUNKS_READY), None),
    Backlog("retrieve", stream_for(subjects.QUERY_REQUESTED), RETRIEVE_DURABLE),
    Backlog("generate", stream_for(subjects.CONTEXT_RETRIEVED), GENERATE_DURABLE),
)


async def ensure_streams(js: JetStreamContext, settings: JetStreamSettings | None = None) -> None:
    """Create or update every ragbus stream; safe to call from every process at start.

    A changed replica count is applied in place (JetStream moves the copies). A
    changed storage type cannot be: that raises :class:`TopologyError`, since the
    stream may hold acknowledged uploads (move them with ``nats stream backup`` and
    ``restore``). JetStream cannot change a stream's retention in place either. A
    stream declared with another retention (``RAGBUS_CHUNKS`` before it became a
    work queue) is deleted and created again: it only carries regenerable work, and
    documents whose batches it held are re-published by ingest_svc's sweeper once
    they are stale.

    Raises:
        TopologyError: A stream's storage differs from the declared one.
    """
    for config in streams(settings):
        assert config.name is not None
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            continue
        if info.config.storage != config.storage:
            raise TopologyError(
                f"stream {config.name} is stored as {info.config.storage}, declared"
                f" {config.storage}; JetStream cannot change that in place"
            )
        if info.config.retention != config.retention:
            log.warning(
                "stream retention changed: re-creating it",
                extra={"stream": config.name, "retention": str(config.retention)},
            )
            await js.delete_stream(config.name)
            await js.add_stream(config)
        else:
            await js.update_stream(config)
