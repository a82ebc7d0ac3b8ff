"""OpenTelemetry set-up, configured only by the standard ``OTEL_*`` variables.

Spans come from FastStream's NATS telemetry middleware (context travels in NATS
headers) and FastAPI's instrumentation. Nothing is exported unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set,
and ``OTEL_TRACES_EXPORTER=none`` turns export off.
"""

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def configure_tracing(service_name: str) -> bool:
    """Install an OTLP/HTTP tracer provider once per process; returns whether it did."""
    global _configured
    if _configured or os.environ.get("OTEL_TRACES_EXPORTER", "otlp") == "none":
        return False
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return True
