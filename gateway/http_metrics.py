"""HTTP request metrics by route, method and status, served with the rest at ``/metrics``.

prometheus-fastapi-instrumentator's middleware times every request and resolves its
route template (``/v1/documents/{document_id}``, never the raw path, so the label set
stays bounded; unmatched paths are ``none``). The metrics themselves are defined once
here in prometheus_client's default registry, next to ragbus's own
(:mod:`ragbus.metrics`), so a process that builds several apps (the tests) keeps
counting in one place:

* ``ragbus_http_requests_total{route, method, status}``: requests answered;
* ``ragbus_http_request_duration_seconds{route, method, status}``: seconds from the
  request to the end of the response (for a stream, until it ends).

``/metrics``, ``/healthz`` and ``/readyz`` are left out: scrapes and probes would
drown the traffic.
"""

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info

from ragbus.metrics import LATENCY_BUCKETS_S

REQUESTS = Counter(
    "ragbus_http_requests",
    "HTTP requests answered by the gateway, by route template, method and status.",
    ["route", "method", "status"],
)
DURATION = Histogram(
    "ragbus_http_request_duration_seconds",
    "Seconds to answer an HTTP request (a stream: until it ends), by route, method, status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS_S,
)
EXCLUDED = ["/metrics", "/healthz", "/readyz"]


def _record(info: Info) -> None:
    labels = (info.modified_handler, info.method, info.modified_status)
    REQUESTS.labels(*labels).inc()
    DURATION.labels(*labels).observe(info.modified_duration)


def install(app: FastAPI) -> None:
    """Count and time every request of ``app`` (call before the app starts)."""
    Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=False,
        should_group_untemplated=True,
        excluded_handlers=EXCLUDED,
        should_respect_env_var=False,
    ).add(_record).instrument(app)
