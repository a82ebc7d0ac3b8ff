"""``/healthz``, ``/readyz`` and ``/metrics``: is the process up, can it serve, how is it doing."""

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.identity import metrics_reader
from gateway.readiness import all_ready, readiness
from gateway.state import StateDep
from ragbus.metrics import refresh_jetstream_gauges

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request, state: StateDep) -> Any:
    """Readiness: NATS, Postgres, the vector store and the blob store answer."""
    checks = await readiness(request.app.state.broker, request.app.state.resources)
    ok = state.ready and all_ready(checks)
    return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, 200 if ok else 503)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_reader)])
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (``ragbus up``: of every service).

    Readers: the scrape token (``RAGBUS_AUTH_METRICS_TOKEN``) or a tenant admin;
    services running alone serve theirs on ``RAGBUS_METRICS_PORT`` instead.

    Consumer pending counts and the dead-letter count are read from JetStream
    first; with NATS down the rest is still served.
    """
    try:
        await refresh_jetstream_gauges(request.app.state.broker.connection.jetstream())
    except Exception:  # a scrape must not fail because NATS is down
        log.warning("JetStream gauges not refreshed", exc_info=True)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
