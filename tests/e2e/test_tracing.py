"""One trace per upload and per query, across the services, with an in-memory exporter.

The stack runs in this process (every service on one broker, the gateway on its
own), so the services are told apart by the spans' own attributes: the HTTP route
for the gateway and the durable consumer (``messaging.consumer.group.name``) of
each ``settle`` span for ingest, embed, retrieve and generate. The context crosses
every hop in NATS headers, exactly as between processes.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from ragbus.settings import InfraSettings
from ragbus.telemetry import instrument_postgres
from tests.e2e.stack import running_stack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Every span of this process, kept in memory."""
    spans = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # none installed yet: install one
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield spans
    spans.shutdown()


@pytest.fixture(scope="module")
async def stack(exporter, nats_url: str, database_url: str, tmp_path_factory) -> AsyncIterator:
    """The whole stack, created after the tracer provider so every tracer uses it."""
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("otel")
    )
    instrument_postgres()  # as configure_tracing does in every service process
    async with running_stack(infra) as running:
        yield running


def trace_of(spans: list[ReadableSpan], method: str, route: str) -> list[ReadableSpan]:
    """Every span in the trace of the (single) HTTP request ``method route``."""
    (root,) = [
        s
        for s in spans
        if s.kind == trace.SpanKind.SERVER
        and (s.attributes or {}).get("http.route") == route
        and (s.attributes or {}).get("http.request.method", (s.attributes or {}).get("http.method"))
        == method
    ]
    assert root.context is not None
    return [
        s for s in spans if s.context is not None and s.context.trace_id == root.context.trace_id
    ]


def consumers(spans: list[ReadableSpan]) -> set[str]:
    return {
        str((s.attributes or {})["messaging.consumer.group.name"])
        for s in spans
        if s.name == "settle"
    }


async def test_one_trace_spans_gateway_ingest_and_embed_for_an_upload(
    stack: Any, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    async with stack.client("otel-upload") as client:
        text = b"# Bells\n\nThe bronze bell in the north tower rings at noon on Sundays.\n"
        doc = (await client.upload_bytes("bells.md", text))["id"]
        await wait_final(client, [doc], 120)
    spans = trace_of(list(exporter.get_finished_spans()), "POST", "/v1/documents")
    names = {s.name for s in spans}
    # Subjects carry the tenant (document.uploaded.<tenant>), and so do the spans' names.
    uploaded = "document.uploaded.otel-upload"
    assert {f"{uploaded} publish", f"{uploaded} process"} <= names
    assert {"parse", "chunk"} <= names
    assert {"embed_batch", "vector_upsert"} <= names
    # embed_svc's settle span ends after its ack, which may be after the document
    # reads indexed (its commit): wait for it rather than race it.
    for _ in range(100):
        spans = trace_of(list(exporter.get_finished_spans()), "POST", "/v1/documents")
        got = consumers(spans)
        if any(c.startswith("embed-svc") for c in got):
            break
        await asyncio.sleep(0.1)
    assert "ingest-svc" in got, got
    assert any(c.startswith("embed-svc") for c in got), got  # a tenant lane of embed_svc
    (parse,) = [s for s in spans if s.name == "parse"]
    assert (parse.attributes or {})["file.name"] == "bells.md"


async def test_one_trace_spans_gateway_retrieve_and_generate_for_a_query(
    stack: Any, exporter: InMemorySpanExporter
) -> None:
    async with stack.client("otel-query") as client:
        text = b"# Ferry\n\nThe island ferry leaves the pier every forty minutes.\n"
        doc = (await client.upload_bytes("ferry.md", text))["id"]
        await wait_final(client, [doc], 120)
        exporter.clear()
        answer = await client.query("How often does the island ferry leave?")
    assert answer["found"], answer
    spans = trace_of(list(exporter.get_finished_spans()), "POST", "/v1/query")
    names = {s.name for s in spans}
    assert {"query.requested.otel-query process", "context.retrieved process"} <= names
    assert "vector_search" in names
    assert {"retrieve-svc", "generate-svc"} <= consumers(spans)
    (search,) = [s for s in spans if s.name == "vector_search"]
    assert (search.attributes or {})["db.response.returned_rows"] >= 1


async def test_gateway_metrics_count_settled_messages_and_stages(stack: Any) -> None:
    async with stack.client("otel-metrics") as client:
        doc = (await client.upload_bytes("m.md", b"# Metrics\n\nCounted once.\n"))["id"]
        await wait_final(client, [doc], 120)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        assert (await http.get("/metrics")).status_code == 401  # not open to anyone
        member = await stack.headers("otel-metrics", "member")
        assert (await http.get("/metrics", headers=member)).status_code == 403
        admin = await stack.headers("otel-metrics")
        uploads = (("consumer", "ingest-svc"), ("stream", "RAGBUS_DOCUMENTS"))
        for _ in range(50):  # the gauges are read from JetStream at each scrape
            response = await http.get("/metrics", headers=admin)
            assert response.status_code == 200
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            }
            settled = ("ragbus_consumer_pending", "ragbus_consumer_ack_pending")
            if all(samples[(name, uploads)] == 0 for name in settled):
                break
            # a scrape while a message is in flight, or before its ack has reached
            # JetStream, reads 1 (both seen in CI)
            await asyncio.sleep(0.2)
    acked = samples[("ragbus_messages_total", (("consumer", "ingest-svc"), ("outcome", "ack")))]
    assert acked >= 1
    assert samples[("ragbus_stage_seconds_count", (("stage", "parse"),))] >= 1
    assert samples[("ragbus_handle_seconds_count", (("consumer", "ingest-svc"),))] >= acked
    assert samples[("ragbus_consumer_pending", uploads)] == 0  # read from JetStream
    assert samples[("ragbus_consumer_ack_pending", uploads)] == 0
    assert ("ragbus_dlq_messages", ()) in samples
    upload = (("method", "POST"), ("route", "/v1/documents"), ("status", "202"))
    assert samples[("ragbus_http_requests_total", upload)] >= 1  # gateway/http_metrics.py


def is_postgres(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "postgresql" in (attributes.get("db.system"), attributes.get("db.system.name"))


async def test_postgres_calls_and_the_embed_batch_are_found_from_an_upload(
    stack: Any, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    async with stack.client("otel-links") as client:
        text = b"# Tides\n\nThe harbour floods twice a day, an hour after the moon rises.\n"
        doc = (await client.upload_bytes("tides.md", text))["id"]
        await wait_final(client, [doc], 120)
    finished = list(exporter.get_finished_spans())
    spans = trace_of(finished, "POST", "/v1/documents")
    (request,) = [s for s in spans if s.kind == trace.SpanKind.SERVER]
    assert request.context is not None
    upload_trace = request.context.trace_id
    # asyncpg's spans: the gateway's insert under its request, the services' under their work.
    postgres = [s for s in spans if is_postgres(s)]
    assert postgres, {s.name for s in spans}
    assert any(s.parent and s.parent.span_id == request.context.span_id for s in postgres)
    assert all("db.statement" in (s.attributes or {}) or s.name for s in postgres)
    # embed_svc's pull batch starts its own trace, linked to each message it embeds:
    # the link from a batch span to this upload's trace is how the batch is found.
    linked = [s for s in finished if any(link.context.trace_id == upload_trace for link in s.links)]
    assert linked, "no span links to the upload's trace"
    assert all(s.context is not None and s.context.trace_id != upload_trace for s in linked)
    assert any("chunks.ready" in s.name for s in linked), [s.name for s in linked]
