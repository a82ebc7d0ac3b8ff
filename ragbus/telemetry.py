"""OpenTelemetry: set-up from the standard ``OTEL_*`` variables, and stage spans.

Trace context travels in NATS headers (``traceparent``), written and read by
FastStream's NATS telemetry middleware, and HTTP requests get spans from FastAPI's
instrumentation, so an upload or a query is one trace across the services.
A batch subscriber (embed_svc pulls several messages at once) gets a new trace
from FastStream, *linked* to each message's trace; :func:`message_context` lets
per-message work rejoin its message's own trace (``ragbus.ack_policy.settle`` does).

Nothing is exported unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and ``OTEL_TRACES_EXPORTER=none``
turns export off.
"""

import contextlib
import os
import time
from collections.abc import Iterator, Mapping

from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from ragbus.metrics import BATCH_SIZE, STAGE_SECONDS

__all__ = ["configure_tracing", "instrument_postgres", "message_context", "stage"]

_configured = False
_PROPAGATOR = TraceContextTextMapPropagator()
"""W3C ``traceparent``, the format FastStream's middleware writes into NATS headers."""


def instrument_postgres() -> None:
    """Give every Postgres call a span (opentelemetry-instrumentation-asyncpg).

    One span per query, named by its operation, with ``db.system``,
    ``db.statement`` (the SQL, never its parameters) and the server's address, a
    child of whatever span is current (the HTTP request, the message being
    handled). Patches asyncpg once per process; without a tracer provider the spans
    cost nothing.
    """
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def configure_tracing(service_name: str) -> bool:
    """Install an OTLP/HTTP tracer provider once per process; returns whether it did.

    Postgres calls get spans as well (:func:`instrument_postgres`) once it does.
    """
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
    instrument_postgres()
    _configured = True
    return True


def message_context(raw: Msg) -> otel_context.Context | None:
    """The trace context ``raw`` carries, when the current span is not already in it.

    Returns:
        The message's context when it has a valid ``traceparent`` from another
        trace than the current span's (a batch handler); ``None`` (keep the current
        context) otherwise.
    """
    carried = _PROPAGATOR.extract(dict(raw.headers or {}))
    theirs = trace.get_current_span(carried).get_span_context()
    ours = trace.get_current_span().get_span_context()
    if theirs.is_valid and (not ours.is_valid or ours.trace_id != theirs.trace_id):
        return carried
    return None


@contextlib.contextmanager
def stage(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    message: Msg | None = None,
    batch_size: int | None = None,
    activate: bool = True,
) -> Iterator[trace.Span]:
    """A span for one pipeline stage, also timed in ``ragbus_stage_seconds{stage=name}``.

    Args:
        name: Stage name, also the span name: ``parse``, ``chunk``, ``embed_batch``,
            ``vector_upsert``, ``vector_search``, ``llm`` ...
        attributes: Span attributes, semantic-convention names where they exist.
        message: Parent the span on this message's trace (see :func:`message_context`).
        batch_size: Items handled, recorded in ``ragbus_batch_size{stage=name}``.
        activate: Make the span current. ``False`` inside an async generator, whose
            body runs in its consumer's context between yields (attaching there
            would detach the wrong context); spans below it then parent elsewhere.

    Yields:
        The span, to add attributes known only at the end (token counts).
    """
    parent = message_context(message) if message is not None else None
    if batch_size is not None:
        BATCH_SIZE.labels(name).observe(batch_size)
    started = time.perf_counter()
    tracer = trace.get_tracer("ragbus")
    try:
        if activate:
            with tracer.start_as_current_span(name, context=parent, attributes=attributes) as s:
                yield s
            return
        span = tracer.start_span(name, context=parent, attributes=attributes)
        try:
            yield span
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()
    finally:
        STAGE_SECONDS.labels(name).observe(time.perf_counter() - started)
