"""Redelivering any event changes nothing: one check per JetStream consumer.

Every message the flow publishes is captured (a core NATS subscription sees
JetStream publishes too). Once the flow is done, each consumed message is
published again with its payload and headers and a fresh ``Nats-Msg-Id``, which
is what a consumer sees on a redelivery (only the delivery count differs). The
state each consumer owns must be exactly what it was: document row, batches,
vectors, query row, and the number of messages stored on each subject.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.msg import Msg

from deploy.jetstream import CHUNKS_STREAM, DOCUMENTS_STREAM, QUERIES_STREAM
from schemas import subjects as s
from schemas.dead_letters import TenantOnly
from tests.e2e.stack import wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

WORK_STREAMS = [c.name or "" for c in (DOCUMENTS_STREAM, CHUNKS_STREAM, QUERIES_STREAM)]
DOCS_OR_QUERIES = (s.DOCUMENT_UPLOADED, s.DOCUMENT_DELETE, s.QUERY_REQUESTED, s.CONTEXT_RETRIEVED)
"""Redelivered subjects whose streams the snapshot counts (chunks are a work queue)."""


async def idle(js: Any, timeout_s: float = 120.0) -> None:
    """Wait until every consumer of the work streams has nothing pending or unacked."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        busy = (await js.stream_info(CHUNKS_STREAM.name)).state.messages  # a work queue
        for stream in WORK_STREAMS:
            for info in await js.consumers_info(stream):
                busy += info.num_pending + info.num_ack_pending
        if not busy:
            return
        assert loop.time() < deadline, f"{busy} messages still in flight"
        await asyncio.sleep(0.3)


async def snapshot(js: Any, db: asyncpg.Connection, stack: Any, tenant: str, doc: str) -> dict:
    """Everything the consumers own for this tenant, plus stored messages per subject."""
    doc_id = uuid.UUID(doc)
    store = await stack.resources.vector_store()
    subjects: dict[str, int] = {}
    for stream in (DOCUMENTS_STREAM.name, QUERIES_STREAM.name):
        info = await js.stream_info(stream, subjects_filter=">")
        subjects |= info.state.subjects or {}
    return {
        "document": dict(
            await db.fetchrow(
                "SELECT * FROM documents WHERE tenant_id = $1 AND id = $2", tenant, doc_id
            )
        ),
        "batches": [
            dict(r)
            for r in await db.fetch(
                "SELECT * FROM document_batches WHERE tenant_id = $1 ORDER BY 1, 2, 3", tenant
            )
        ],
        "queries": [
            dict(r) for r in await db.fetch("SELECT * FROM queries WHERE tenant_id = $1", tenant)
        ],
        "vectors": await store.count(tenant_id=tenant, document_id=doc_id),
        "stored messages": subjects,
    }


async def redeliver(js: Any, captured: list[Msg], keep: Callable[[str], bool]) -> list[str]:
    """Publish the captured messages ``keep`` selects again; returns their subjects."""
    sent = []
    for msg in list(captured):  # the capture also sees what is sent here
        if keep(msg.subject):
            headers = {k: v for k, v in (msg.headers or {}).items() if k != "Nats-Msg-Id"}
            headers["Nats-Msg-Id"] = f"redelivery-{uuid.uuid4()}"
            await js.publish(msg.subject, msg.data, headers=headers)
            sent.append(msg.subject)
    return sent


def plus(state: dict, sent: list[str]) -> dict:
    """``state`` with the redelivered messages themselves counted as stored."""
    redelivered = Counter(subject for subject in sent if family(subject) in DOCS_OR_QUERIES)
    stored = Counter(state["stored messages"]) + redelivered
    return {**state, "stored messages": dict(stored)}


def family(subject: str) -> str:
    """The family of a concrete subject (``document.uploaded.acme`` -> ``document.uploaded``)."""
    scoped = (*s.TENANT_SCOPED, *s.PER_QUERY)
    return next((f for f in scoped if subject.startswith(f + ".")), subject)


@dataclass
class Flow:
    """One document indexed and one question answered, with every message captured."""

    tenant: str
    doc: str
    client: Any
    js: Any
    db: asyncpg.Connection
    captured: list[Msg]


@pytest.fixture(scope="module")
async def flow(stack: Any, nats_url: str, database_url: str) -> AsyncIterator[Flow]:
    tenant = f"redeliver-{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_url)
    db = await asyncpg.connect(database_url)
    captured: list[Msg] = []

    async def capture(msg: Msg) -> None:
        try:
            if TenantOnly.model_validate_json(msg.data).tenant_id == tenant:
                captured.append(msg)
        except ValueError:
            pass

    for pattern in ("document.>", "chunks.>", "query.requested.>", s.CONTEXT_RETRIEVED):
        await nc.subscribe(pattern, cb=capture)
    async with stack.client(tenant) as client:
        text = b"# Tides\n\nThe harbor tide table lists high water at 06:12 and 18:40 today.\n"
        doc = (await client.upload_bytes("tides.md", text))["id"]
        await wait_final(client, [doc], 120)
        answer = await client.query("When is high water in the harbor?")
        assert answer["found"], answer
        yield Flow(tenant, doc, client, nc.jetstream(), db, captured)
    await db.close()
    await nc.close()


async def assert_redelivery_changes_nothing(stack: Any, flow: Flow, subject: str) -> None:
    await idle(flow.js)
    before = await snapshot(flow.js, flow.db, stack, flow.tenant, flow.doc)
    sent = await redeliver(flow.js, flow.captured, lambda subj: family(subj) == subject)
    assert sent, f"the flow published no {subject}"
    await idle(flow.js)
    assert await snapshot(flow.js, flow.db, stack, flow.tenant, flow.doc) == plus(before, sent)


async def test_document_uploaded_redelivered_to_ingest_changes_nothing(stack, flow) -> None:
    await assert_redelivery_changes_nothing(stack, flow, s.DOCUMENT_UPLOADED)


async def test_chunks_ready_redelivered_to_embed_changes_nothing(stack, flow) -> None:
    await assert_redelivery_changes_nothing(stack, flow, s.CHUNKS_READY)


async def test_query_requested_redelivered_to_retrieve_changes_nothing(stack, flow) -> None:
    await assert_redelivery_changes_nothing(stack, flow, s.QUERY_REQUESTED)


async def test_context_retrieved_redelivered_to_generate_changes_nothing(stack, flow) -> None:
    await assert_redelivery_changes_nothing(stack, flow, s.CONTEXT_RETRIEVED)


async def test_document_delete_redelivered_changes_nothing_and_nothing_revives(stack, flow) -> None:
    await flow.client.delete(flow.doc)
    await wait_final(flow.client, [flow.doc], 60)
    await idle(flow.js)
    deleted = await snapshot(flow.js, flow.db, stack, flow.tenant, flow.doc)
    assert deleted["vectors"] == 0 and deleted["document"]["status"] == "deleted"
    # The delete again, then every other document event too: it stays deleted.
    for subject in (s.DOCUMENT_DELETE, s.DOCUMENT_UPLOADED, s.CHUNKS_READY):
        await assert_redelivery_changes_nothing(stack, flow, subject)
