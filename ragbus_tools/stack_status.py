"""``ragbus status``: where a running stack is, how much work waits at each stage, dead letters.

The stack is found from ``<data dir>/stack.json`` (:mod:`ragbus_tools.stack_file`),
unless ``--url`` / ``--nats-url`` say otherwise. The backlog of each stage is read
from JetStream exactly as the autoscalers read it (:data:`deploy.jetstream.BACKLOGS`):
a stage's durable consumer's pending plus unacknowledged messages, and for embed
the work-queue stream's message count. A process-mode stack adds its replicas
(:mod:`ragbus_tools.process_status`).
"""

from pathlib import Path
from typing import Any

import httpx
import nats

from ragbus.backlogs import read_backlogs
from ragbus_tools.cli_errors import EXIT_UNREACHABLE, CliError
from ragbus_tools.stack_file import read_stack


async def backlogs(
    nats_url: str, timeout_s: float = 5.0, auth: dict[str, str] | None = None
) -> dict[str, Any]:
    """Each stage's backlog and the dead letters, read from JetStream.

    ``auth`` is the ``user``/``password`` of an identity that may read stream and
    consumer state (``ragbus-admin``: :func:`ragbus_tools.stack_file.nats_connection`).

    Returns:
        ``{"stages": [{"stage", "backlog", "in_flight"}], "dead_letters": n}``; a
        stage whose consumer or stream does not exist yet has a backlog of 0.

    Raises:
        nats.errors.Error: NATS cannot be reached within ``timeout_s`` seconds.
    """
    nc = await nats.connect(
        nats_url,
        name="ragbus-status",
        connect_timeout=timeout_s,
        max_reconnect_attempts=1,  # NATS down: fail within a second, not retry forever
        reconnect_time_wait=0.5,
        error_cb=_quiet,
        **(auth or {}),  # type: ignore[arg-type]
    )
    try:
        return await read_backlogs(nc.jetstream(timeout=timeout_s))
    finally:
        await nc.close()


async def _quiet(exc: Exception) -> None:
    """nats-py logs each failed connect with a traceback; the CLI reports it once."""


def gateway_ready(url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """``GET /readyz`` of the gateway (no credential needed).

    Returns:
        ``{"ready": bool, "checks": {...}}``.

    Raises:
        httpx.TransportError: the gateway does not answer.
    """
    reply = httpx.get(f"{url.rstrip('/')}/readyz", timeout=timeout_s)
    body = reply.json() if reply.content else {}
    return {"ready": reply.status_code == 200, "checks": body}


def where(data_dir: Path, url: str | None, nats_url: str | None) -> dict[str, Any]:
    """The stack's addresses: the flags', else those ``ragbus up`` recorded in ``data_dir``.

    Raises:
        CliError: no stack is recorded there and no URL was given (exit 5).
    """
    info = read_stack(data_dir)
    if info is None and not (url and nats_url):
        raise CliError(
            EXIT_UNREACHABLE,
            f"cannot reach a stack: none is recorded in {data_dir}/stack.json; start one with"
            f" `ragbus up --data-dir {data_dir}`, or pass --url and --nats-url",
        )
    gateway = url or (info.gateway_url if info else "")
    return {
        "gateway": gateway,
        "metrics": f"{gateway.rstrip('/')}/metrics",
        "nats": nats_url or (info.nats_url if info else ""),
        "tenant": info.tenant if info else None,
        "api_key_file": info.api_key_file if info else None,
    }


def status_lines(status: dict[str, Any]) -> list[str]:
    """The status for people: addresses, one line per stage, dead letters."""
    ready = "ready" if status["gateway_ready"] else "NOT ready"
    lines = [
        f"{'gateway':<13} {status['gateway']}  ({ready})",
        f"{'metrics':<13} {status['metrics']}  (admin key or RAGBUS_AUTH_METRICS_TOKEN)",
        f"{'NATS':<13} {status['nats']}",
    ]
    if status.get("api_key_file"):
        lines.append(f"{'admin key':<13} {status['api_key_file']}  (tenant {status['tenant']})")
    lines.append(f"{'stage':<13} {'backlog':>8} {'in flight':>10}")
    for stage in status["stages"]:
        lines.append(f"{stage['stage']:<13} {stage['backlog']:>8} {stage['in_flight']:>10}")
    hint = "  (ragbus dlq list)" if status["dead_letters"] else ""
    lines.append(f"{'dead letters':<13} {status['dead_letters']:>8}{hint}")
    return lines
