"""Prometheus metrics of every ragbus process (prometheus_client's default registry).

What is counted where:

* :func:`ragbus.bus.settle` counts every JetStream message it settles, per durable
  consumer and outcome (``ack``, ``nak``, ``term``), the dead letters it writes,
  and how long the handler's work took.
* :func:`ragbus.telemetry.stage` times each pipeline stage (``parse``, ``chunk``,
  ``embed_batch``, ``vector_upsert``, ``vector_search``, ``llm``) and records
  batch sizes.

The gateway serves them at ``GET /metrics``; a service run on its own serves them
on ``RAGBUS_METRICS_PORT`` when that is set (``ragbus up`` is one process, so the
gateway's ``/metrics`` already holds every service's figures).
"""

import logging

from prometheus_client import Counter, Histogram, start_http_server
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "BATCH_SIZE",
    "DEAD_LETTERS",
    "HANDLE_SECONDS",
    "MESSAGES",
    "STAGE_SECONDS",
    "MetricsSettings",
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
