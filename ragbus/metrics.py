"""Prometheus metrics of every ragbus process (prometheus_client's default registry).

What is counted where:

* :func:`ragbus.bus.settle` counts every JetStream message it settles, per durable
  consumer and outcome (``ack``, ``nak``, ``term``), the dead letters it writes,
  and how long the handler's work took.
* :func:`ragbus.telemetry.stage` times each pipeline stage (``parse``, ``chunk``,
  ``embed_batch``, ``vector_upsert``, ``vector_search``, ``llm``) and records
  batch sizes.

* :class:`ragbus.embedding.cache.CachingEmbedder` counts the passages it answered
  without the model (hits) and those the model embedded (misses), per model.

* :func:`refresh_jetstream_gauges` reads every durable consumer's pending and
  ack-pending counts and the dead-letter count from JetStream; the gateway calls
  it on each scrape (the figures are the cluster's, so one place is enough).

The gateway serves them at ``GET /metrics``; a service run on its own serves them
on ``RAGBUS_METRICS_PORT`` when that is set (``ragbus up`` is one process, so the
gateway's ``/metrics`` already holds every service's figures).
"""

import logging

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge, Histogram, start_http_server
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.jetstream import DLQ_STREAM, STREAMS

__all__ = [
    "BATCH_SIZE",
    "CONSUMER_ACK_PENDING",
    "CONSUMER_PENDING",
    "DEAD_LETTERS",
    "DLQ_MESSAGES",
    "EMBEDDING_CACHE_HITS",
    "EMBEDDING_CACHE_MISSES",
    "HANDLE_SECONDS",
    "MESSAGES",
    "STAGE_SECONDS",
    "MetricsSettings",
    "refresh_jetstream_gauges",
    "serve_metrics",
]

log = logging.getLogger(__name__)

# Latency buckets in seconds: a query stage takes milliseconds, embedding a
# 64-chunk batch on two cores about 3 s, a large PDF parse or an LLM answer
# tens of seconds.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Items per batch; ``chunks.ready`` carries at most 64 chunks."""

MESSAGES = Counter(
    "ragbus_messages",
    "JetStream messages settled, by durable consumer and outcome (ack, nak, term).",
    ["consumer", "outcome"],
)
DEAD_LETTERS = Counter(
    "ragbus_dead_letters",
    "Messages written to the dead-letter stream, by consumer and reason.",
    ["consumer", "reason"],
)
HANDLE_SECONDS = Histogram(
    "ragbus_handle_seconds",
    "Seconds a handler worked on one message before it was settled, by consumer.",
    ["consumer"],
    buckets=LATENCY_BUCKETS_S,
)
STAGE_SECONDS = Histogram(
    "ragbus_stage_seconds",
    "Seconds spent in one pipeline stage (parse, chunk, embed_batch, vector_upsert, ...).",
    ["stage"],
    buckets=LATENCY_BUCKETS_S,
)
BATCH_SIZE = Histogram(
    "ragbus_batch_size",
    "Items handled in one call of a stage (chunks embedded, points upserted).",
    ["stage"],
    buckets=BATCH_BUCKETS,
)

EMBEDDING_CACHE_HITS = Counter(
    "ragbus_embedding_cache_hits",
    "Passages embedded without the model: found in the cache, or a copy of another"
    " text of the same call; by model.",
    ["model"],
)
EMBEDDING_CACHE_MISSES = Counter(
    "ragbus_embedding_cache_misses",
    "Distinct passages the model embedded (not found in the cache), by model.",
    ["model"],
)

CONSUMER_PENDING = Gauge(
    "ragbus_consumer_pending",
    "Messages stored but not yet delivered to a durable consumer.",
    ["stream", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "ragbus_consumer_ack_pending",
    "Messages delivered to a durable consumer and not yet acked, nak'ed or termed.",
    ["stream", "consumer"],
)
DLQ_MESSAGES = Gauge("ragbus_dlq_messages", "Dead letters waiting in RAGBUS_DLQ.")


async def refresh_jetstream_gauges(js: JetStreamContext) -> None:
    """Set the consumer and dead-letter gauges from JetStream (one request per stream).

    Consumers that no longer exist (an idle tenant lane removed by the server) drop
    out of the gauges.

    Raises:
        nats.errors.Error: NATS did not answer.
    """
    CONSUMER_PENDING.clear()
    CONSUMER_ACK_PENDING.clear()
    for config in STREAMS:
        name = config.name or ""
        try:
            consumers = await js.consumers_info(name)
        except NotFoundError:
            continue
        for info in consumers:
            CONSUMER_PENDING.labels(name, info.name).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(name, info.name).set(info.num_ack_pending or 0)
    dlq = await js.stream_info(DLQ_STREAM.name or "")
    DLQ_MESSAGES.set(dlq.state.messages)


class MetricsSettings(BaseSettings):
    """Where a service process serves its metrics (prefix ``RAGBUS_METRICS_``).

    Attributes:
        port: TCP port of the ``/metrics`` HTTP server; ``None`` serves none (the
            gateway serves its own at ``/metrics`` on its HTTP port).
        host: Interface it listens on.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_METRICS_", extra="ignore")

    port: int | None = Field(None, ge=1, le=65535)
    host: str = "0.0.0.0"


def serve_metrics(settings: MetricsSettings | None = None) -> int | None:
    """Start prometheus_client's HTTP server in a daemon thread when a port is set.

    Returns:
        The port served, or ``None`` when none is configured.

    Raises:
        OSError: the port is taken.
    """
    settings = settings or MetricsSettings()
    if settings.port is None:
        return None
    start_http_server(settings.port, addr=settings.host)
    log.info("metrics served", extra={"port": settings.port})
    return settings.port
