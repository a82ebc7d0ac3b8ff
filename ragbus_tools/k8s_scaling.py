"""KEDA ScaledObjects for the workers, generated from ``deploy.jetstream.BACKLOGS``.

Every worker scales on the backlog of the durable consumer it binds, as KEDA's
``nats-jetstream`` scaler reads it from the NATS monitoring endpoint (``/jsz``):
``num_pending + num_ack_pending`` of that consumer. The names come from
``deploy/jetstream.py``, the same constants the services subscribe with, so a
ScaledObject cannot watch a consumer nobody reads (KEDA then reports an error or,
in older releases, the stream's last sequence, and scales to the maximum).

embed_svc is the exception: its durables are per-tenant lanes
(``embed-svc-<hash>``) that come and go, and ``RAGBUS_CHUNKS`` is a work-queue
stream, which refuses a second consumer overlapping them (a "dedicated" consumer
on ``chunks.>`` cannot be declared; ``tests/integration/test_scaling_signals.py``
shows the server's refusal). A work queue deletes each batch once it is acked, so
the stream's own message count *is* embed's backlog, across all tenants, and it
exists even when embed runs zero replicas and no lane exists: embed scales on it,
read by KEDA's ``metrics-api`` scaler from the same ``/jsz`` endpoint.

The thresholds are chosen with ``python -m ragbus_tools.scale_sim`` on a recorded
SciFact import (docs/deploy.md).
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from deploy.jetstream import BACKLOGS, Backlog
from deploy.nats_security import ACCOUNT

NATS_ACCOUNT = ACCOUNT
"""The account the streams live in (``RAGBUS``); ``/jsz`` needs no credentials."""
MONITOR_PORT = 8222
JSZ_QUERY = f"acc={quote(NATS_ACCOUNT)}&streams=true"
"""What the ``metrics-api`` trigger asks ``/jsz`` for: the account's streams."""


@dataclass(frozen=True, slots=True)
class Scaling:
    """How one worker scales.

    Attributes:
        lag_threshold: Backlog per replica KEDA aims for (HPA ``AverageValue``).
        min_replicas: Replicas when idle; 0 lets KEDA scale the worker away.
        max_replicas: Most replicas.
        activation: Backlog above which a worker at zero is woken.
        cpu_percent: Also scale on CPU use (request-reply work the backlog misses).
        cooldown_s: Seconds without backlog before scaling to zero.
        scale_down_window_s: HPA scale-down stabilization window.
    """

    lag_threshold: int
    min_replicas: int
    max_replicas: int
    activation: int = 0
    cpu_percent: int | None = None
    cooldown_s: int = 300
    scale_down_window_s: int = 120


POLLING_S = 10
"""Seconds between KEDA's reads of the backlog."""

# Thresholds (docs/deploy.md has the tables): embed's 40 batches a replica is the knee
# of `scale_sim replay deploy/k8s/scaling/scifact-import.json --sweep` (600 SciFact
# documents uploaded in 28 s): drained 19 s after the last upload with 7 replicas at
# the peak, against 14 s and 10 replicas at 20, and 32 s with 3 at 160; one batch
# is 1-64 chunks, so 40 is at most ~65 s of work for a 2-core replica (39 chunks/s).
# ingest parses ~28 uploads/s a replica and never queued more than 5 in the
# recording: 200 only scales it for imports far larger than the upload quota allows.
# retrieve and generate have no recorded backlog; theirs come from `ragbus bench
# query` (docs/benchmarks.md): 20 questions is ~0.2 s of retrieval, 4 contexts ~0.4 s
# of extractive answering (an LLM's answer takes seconds, so the CPU trigger and the
# backlog both stay low there).
PROFILES: dict[str, dict[str, Scaling]] = {
    # A laptop or CI cluster: embed may go to zero (POST /v1/embeddings then answers
    # 503 until an import wakes it), nothing grows far.
    "dev": {
        "ingest": Scaling(lag_threshold=200, min_replicas=1, max_replicas=2),
        "embed": Scaling(lag_threshold=40, min_replicas=0, max_replicas=2, cooldown_s=120),
        "retrieve": Scaling(lag_threshold=20, min_replicas=1, max_replicas=2, cpu_percent=75),
        "generate": Scaling(lag_threshold=4, min_replicas=1, max_replicas=2, cpu_percent=75),
    },
    # Production: embed keeps one replica so /v1/embeddings answers at once.
    "prod": {
        "ingest": Scaling(lag_threshold=200, min_replicas=2, max_replicas=6),
        "embed": Scaling(lag_threshold=40, min_replicas=1, max_replicas=12),
        "retrieve": Scaling(lag_threshold=20, min_replicas=2, max_replicas=8, cpu_percent=70),
        "generate": Scaling(lag_threshold=4, min_replicas=2, max_replicas=8, cpu_percent=70),
    },
}


def monitor_host(namespace: str) -> str:
    """The NATS pods' monitoring endpoint, through the headless Service.

    KEDA reaches every node as ``<server name>.<this host>``, which is the pod's DNS
    name because each server is named after its pod (KEDA asks the consumer's leader).
    """
    return f"nats-headless.{namespace}.svc.cluster.local:{MONITOR_PORT}"


def stream_messages_path(stream: str, account: str = NATS_ACCOUNT) -> str:
    """GJSON path of ``stream``'s message count in ``/jsz?acc=...&streams=true``."""
    return f'account_details.#(name=="{account}").stream_detail.#(name=="{stream}").state.messages'


def backlog_trigger(backlog: Backlog, scaling: Scaling, namespace: str) -> dict[str, Any]:
    """The KEDA trigger that reads ``backlog`` from NATS."""
    if backlog.durable is None:
        return {
            "type": "metrics-api",
            "metricType": "AverageValue",
            "metadata": {
                "url": f"http://{monitor_host(namespace)}/jsz?{JSZ_QUERY}",
                "format": "json",
                "valueLocation": stream_messages_path(backlog.stream),
                "targetValue": str(scaling.lag_threshold),
                "activationTargetValue": str(scaling.activation),
            },
        }
    return {
        "type": "nats-jetstream",
        "metricType": "AverageValue",
        "metadata": {
            "natsServerMonitoringEndpoint": monitor_host(namespace),
            "account": NATS_ACCOUNT,
            "stream": backlog.stream,
            "consumer": backlog.durable,
            "lagThreshold": str(scaling.lag_threshold),
            "activationLagThreshold": str(scaling.activation),
        },
    }


def scaled_object(backlog: Backlog, scaling: Scaling, namespace: str) -> dict[str, Any]:
    """The ScaledObject of the Deployment named after ``backlog.service``."""
    triggers = [backlog_trigger(backlog, scaling, namespace)]
    if scaling.cpu_percent is not None:
        triggers.append(
            {
                "type": "cpu",
                "metricType": "Utilization",
                "metadata": {"value": str(scaling.cpu_percent)},
            }
        )
    behavior = {"scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_window_s}}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": backlog.service,
            "labels": {"app.kubernetes.io/name": backlog.service},
        },
        "spec": {
            "scaleTargetRef": {"name": backlog.service},
            "pollingInterval": POLLING_S,
            "cooldownPeriod": scaling.cooldown_s,
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": triggers,
        },
    }


def scaled_objects(profile: str, namespace: str) -> list[dict[str, Any]]:
    """Every worker's ScaledObject for an overlay."""
    return [scaled_object(b, PROFILES[profile][b.service], namespace) for b in BACKLOGS]
