"""End to end through the HTTP gateway: real nats-server, Postgres, model, Qdrant local.

Uploads the few real documents of ../shared/corpus that the questions below need
(about 630 chunks, under a minute of embedding on two cores): child_process.md and
fs.md, which answers must cite; cluster.md, which also covers child processes, so
the first passage has a near rival; and shared-mime-info-spec.pdf, the smaller PDF,
for a cited page. It waits until all are indexed, then asks questions as the owner
and as another tenant.
"""

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.e2e.stack import RunningStack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

INDEX_TIMEOUT_S = 300.0
CORPUS_FILES = (
    "nodejs-api/child_process.md",
    "nodejs-api/fs.md",
    "nodejs-api/cluster.md",
    "pdf/shared-mime-info-spec.pdf",
)


@pytest.fixture(scope="module")
async def corpus_tenant(stack: RunningStack, shared_dir: Path) -> str:
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    files = [shared_dir / "corpus" / name for name in CORPUS_FILES]
    async with stack.client(tenant) as client:
        uploaded = await asyncio.gather(*(client.upload(path) for path in files))
        assert all(d["status"] == "uploaded" and len(d["sha256"]) == 64 for d in uploaded)
        docs = await wait_final(client, [d["id"] for d in uploaded], INDEX_TIMEOUT_S, poll_s=1.0)
    failed = {d["filename"]: d["error"] for d in docs.values() if d["status"] != "indexed"}
    assert not failed, failed
    assert sorted(d["filename"] for d in docs.values()) == sorted(f.name for f in files)
    for doc in docs.values():
        assert doc["progress"]["done"] == doc["progress"]["total"] == doc["chunks"] > 0
        assert doc["indexed_at"] is not None
    return tenant


async def test_child_process_question_cites_child_process_md(
    stack: RunningStack, corpus_tenant: str
) -> None:
    async with stack.client(corpus_tenant) as client:
        answer = await client.query("How do I spawn a child process and read its output?")
    assert answer["found"] is True
    files = [c["filename"] for c in answer["citations"]]
    assert "child_process.md" in files, answer
    assert "[" in answer["answer"]
    assert answer["timings"]["total_ms"] > 0


async def test_pdf_question_cites_a_page(stack: RunningStack, corpus_tenant: str) -> None:
    async with stack.client(corpus_tenant) as client:
        answer = await client.query(
            "How does shared-mime-info detect the MIME type of a file using magic rules?"
        )
    pdf_citations = [c for c in answer["citations"] if c["filename"].endswith(".pdf")]
    assert pdf_citations, answer
    assert all(isinstance(c["page"], int) and c["page"] >= 1 for c in pdf_citations)


async def test_streamed_answer_matches_citations(stack: RunningStack, corpus_tenant: str) -> None:
    events: list[tuple[str, object]] = []
    async with stack.client(corpus_tenant) as client:
        async for event in client.query_stream("How do I read a file with fs.readFile?"):
            events.append(event)
    names = [name for name, _ in events]
    assert names[0] == "query" and names[-1] == "done"
    assert "delta" in names and "citations" in names
    text = "".join(data["text"] for name, data in events if name == "delta")  # type: ignore[index]
    done = events[-1][1]
    assert text == done["answer"]  # type: ignore[index]
    assert any(c["filename"] == "fs.md" for c in done["citations"])  # type: ignore[index]


async def test_retrieve_returns_passages_without_generation(
    stack: RunningStack, corpus_tenant: str
) -> None:
    async with stack.client(corpus_tenant) as client:
        reply = await client.retrieve("child_process.spawn stdout data event", top_k=7)
    passages = reply["passages"]
    assert len(passages) == 7
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)
    assert passages[0]["filename"] == "child_process.md"
    assert {"chunk_id", "document_id", "text", "page", "heading"} <= passages[0].keys()


async def test_other_tenant_sees_nothing(stack: RunningStack, corpus_tenant: str) -> None:
    stranger = f"stranger-{uuid.uuid4().hex[:8]}"
    async with stack.client(stranger) as client:
        answer = await client.query("How do I spawn a child process and read its output?")
        passages = (await client.retrieve("child_process.spawn", top_k=20))["passages"]
    assert answer["citations"] == []
    assert answer["found"] is False
    assert passages == []


async def test_deleted_document_is_never_retrieved(stack: RunningStack, corpus_tenant: str) -> None:
    async with stack.client(corpus_tenant) as client:
        before = (await client.retrieve("child_process.spawn stdout", top_k=10))["passages"]
        target = before[0]["document_id"]
        await client.delete(target)
        after = (await client.retrieve("child_process.spawn stdout", top_k=10))["passages"]
        answer = await client.query("How do I spawn a child process and read its output?")
        doc = await client.document(target)
    assert doc["status"] == "deleted"
    assert all(p["document_id"] != target for p in after)
    assert all(c["document_id"] != target for c in answer["citations"])
