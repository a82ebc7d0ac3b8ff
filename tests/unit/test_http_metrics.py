"""HTTP metrics by route template, method and status (gateway/http_metrics.py).

A real FastAPI app with the gateway's instrumentation, called over ASGI; the
counts are read back from prometheus_client's registry, as ``/metrics`` serves them.
"""

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

from gateway import http_metrics

pytestmark = pytest.mark.unit


def count(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("ragbus_http_requests_total", labels) or 0.0


def timed(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("ragbus_http_request_duration_seconds_count", labels) or 0.0


def app() -> FastAPI:
    served = FastAPI()

    @served.get("/v1/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise HTTPException(404, "no such thing")
        return {"id": thing_id}

    @served.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    http_metrics.install(served)
    return served


async def test_requests_are_counted_by_route_template_method_and_status() -> None:
    route = "/v1/things/{thing_id}"
    before = {s: count(route, "GET", s) for s in ("200", "404", "422")}
    unmatched, health = count("none", "GET", "404"), count("/healthz", "GET", "200")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app()), base_url="http://t") as c:
        for path in ("/v1/things/1", "/v1/things/2", "/v1/things/0", "/v1/things/x"):
            await c.get(path)
        await c.get("/nowhere/at/all")
        await c.get("/healthz")
    after = {s: count(route, "GET", s) - before[s] for s in before}
    assert after == {"200": 2.0, "404": 1.0, "422": 1.0}
    assert count("none", "GET", "404") - unmatched == 1.0  # raw paths never become labels
    assert count("/healthz", "GET", "200") == health  # probes are left out
    assert timed(route, "GET", "200") >= 2.0
