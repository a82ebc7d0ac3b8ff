"""Progress pushed, not polled: the document event stream and ``ragbus ingest``.

A whole stack in this process (real nats-server, Postgres, model, Qdrant local);
every document here is a chunk or two, so the module takes seconds after start-up.
"""

import contextlib
import io
import json
import uuid
from pathlib import Path

import httpx
import nats
import pytest
from rich.console import Console

from deploy.jetstream import stream_for
from gateway.document_stream import ProgressGate
from ragbus_tools.console import run_ingest
from schemas import (
    AnswerFailed,
    AnswerReady,
    DocumentDeleted,
    DocumentStatus,
    DocumentStatusChanged,
)
from schemas import subjects as s
from tests.e2e.stack import RunningStack

RANK = {"uploaded": 0, "parsing": 1, "embedding": 2, "indexed": 3, "failed": 3, "deleted": 3}


def tenant() -> str:
    return f"ev-{uuid.uuid4().hex[:8]}"


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


@pytest.mark.unit
def test_gate_drops_stale_and_backward_updates() -> None:
    gate = ProgressGate()
    assert gate.admit(DocumentStatus.EMBEDDING, 64, 130, None)  # the snapshot
    assert not gate.admit(DocumentStatus.PARSING, 0, 0, None)  # published before it
    assert not gate.admit(DocumentStatus.EMBEDDING, 0, 130, None)  # ingest's late "0/130"
    assert not gate.admit(DocumentStatus.EMBEDDING, 64, 130, None)  # no news
    assert gate.admit(DocumentStatus.EMBEDDING, 128, 130, None)
    assert gate.admit(DocumentStatus.FAILED, 0, 0, "boom")  # failed keeps the progress
    assert (gate.status, gate.done, gate.total, gate.error) == ("failed", 128, 130, "boom")


@pytest.mark.e2e
async def test_stream_goes_forward_to_indexed_then_ends(stack: RunningStack) -> None:
    text = "# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n"
    async with stack.client(tenant()) as client:
        doc = await client.upload_bytes("otters.md", text.encode())
        events = [e async for e in client.events(doc["id"])]
    names = [name for name, _ in events]
    assert names[0] == "document" and names[-1] == "end"
    assert set(names[1:-1]) <= {"status"}
    updates = [data for _, data in events[:-1]]
    assert all(u["id"] == doc["id"] for u in updates)
    ranks = [RANK[u["status"]] for u in updates]
    assert ranks == sorted(ranks), [u["status"] for u in updates]
    done = [u["progress"]["done"] for u in updates]
    assert done == sorted(done)
    last = updates[-1]
    assert last["status"] == "indexed"
    assert last["progress"]["done"] == last["progress"]["total"] > 0
    assert events[-1][1] == {"id": doc["id"], "status": "indexed"}


@pytest.mark.e2e
async def test_stream_of_an_indexed_document_is_its_state_then_end(stack: RunningStack) -> None:
    async with stack.client(tenant()) as client:
        doc = await client.upload_bytes("a.txt", b"Alpacas hum when they are curious.")
        [_ async for _ in client.events(doc["id"])]
        again = [name async for name, _ in client.events(doc["id"])]
    assert again == ["document", "end"]


@pytest.mark.e2e
async def test_gateway_leaves_jetstream_acks_to_jetstream(stack: RunningStack) -> None:
    """The gateway listens to JetStream subjects on core NATS; answering the publisher's
    reply inbox (FastStream's default) would race the stream's ack with an empty body."""
    doc_id = uuid.uuid4()
    events = {
        s.DOCUMENT_STATUS: DocumentStatusChanged(
            tenant_id=tenant(), document_id=doc_id, status=DocumentStatus.PARSING
        ),
        s.DOCUMENT_DELETED: DocumentDeleted(tenant_id=tenant(), document_id=doc_id),
        s.ANSWER_READY: AnswerReady(
            tenant_id=tenant(),
            query_id=doc_id,
            question="q",
            answer="a",
            citations=[],
            model="extractive",
        ),
        s.ANSWER_FAILED: AnswerFailed(
            tenant_id=tenant(), query_id=doc_id, code="timeout", error="e"
        ),
    }
    nc = await nats.connect(stack.infra.nats_url)
    try:
        for subject, event in events.items():
            inbox = nc.new_inbox()
            sub = await nc.subscribe(inbox)
            concrete = s.subject_for(subject, event.tenant_id)
            await nc.publish(concrete, event.model_dump_json().encode(), reply=inbox)
            replies = []
            with contextlib.suppress(TimeoutError):
                while True:
                    replies.append(await sub.next_msg(timeout=0.5))
            assert [json.loads(r.data)["stream"] for r in replies] == [stream_for(concrete)]
    finally:
        await nc.close()


@pytest.mark.e2e
async def test_unknown_document_is_404(stack: RunningStack) -> None:
    async with stack.client(tenant()) as client:
        with pytest.raises(httpx.HTTPStatusError) as caught:
            [_ async for _ in client.events(str(uuid.uuid4()))]
    assert caught.value.response.status_code == 404
    assert caught.value.response.json() == {"detail": "document not found"}


@pytest.mark.e2e
async def test_ingest_folder_with_globs_then_again_as_duplicates(
    stack: RunningStack, tmp_path: Path
) -> None:
    files = {
        "a.md": "# Apples\n\nApples grow on trees in orchards.",
        "b.txt": "Bananas are berries, botanically speaking.",
        "sub/c.md": "# Cherries\n\nCherries are stone fruit.",
        "sub/empty.md": "   \n",
        "LICENSE.md": "Permission is hereby granted.",
        "skip.html": "<p>not included</p>",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    who = tenant()
    kwargs = {"include": ["*.md", "*.txt"], "exclude": ["LICENSE*"], "console": quiet()}

    key = await stack.key(who)
    first = await run_ingest(stack.url, key, [tmp_path], **kwargs)  # type: ignore[arg-type]
    assert first.counts == {"indexed": 3, "failed": 1}
    assert first.failed == 1 and first.chunks == 3
    (bad,) = [o for o in first.outcomes if o.status == "failed"]
    assert bad.label.endswith("empty.md") and "empty" in (bad.error or "")

    second = await run_ingest(stack.url, key, [tmp_path], **kwargs)  # type: ignore[arg-type]
    # A failed document is not a duplicate target, so empty.md fails again.
    assert second.counts == {"duplicate": 3, "failed": 1} and second.chunks == 0


@pytest.mark.e2e
async def test_beir_sample_is_indexed_with_its_ids(
    stack: RunningStack, tmp_path: Path, shared_dir: Path
) -> None:
    source = shared_dir / "datasets" / "scifact" / "corpus.jsonl"
    if not source.exists():
        pytest.skip(f"{source} is not there")
    with source.open() as lines:
        sample = [next(lines) for _ in range(25)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(sample))
    who, out = tenant(), quiet()

    # Few streams, so most documents are followed by the bulk refresh instead.
    summary = await run_ingest(
        stack.url,
        await stack.key(who),
        [corpus],
        limit=20,
        concurrency=8,
        max_streams=4,
        console=out,
    )
    assert summary.counts == {"indexed": 20}, [(o.label, o.error) for o in summary.outcomes]
    assert "docs/s" in out.file.getvalue()  # type: ignore[attr-defined]
    first = json.loads(sample[0])
    async with stack.client(who) as client:
        docs = await client.documents(limit=100)
    (doc,) = [d for d in docs if d["filename"] == f"{first['_id']}.txt"]
    assert doc["metadata"] == {"beir_id": first["_id"]} and doc["status"] == "indexed"
