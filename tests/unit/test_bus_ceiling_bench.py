"""``ragbus bench ingest --embedder fake``: its switch, CPU meter, events and report."""

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

import pytest

from ragbus.settings import InfraSettings
from ragbus_tools.bench.corpus import BenchDocument
from ragbus_tools.bench.cpu import CpuMeter, CpuReading, tree_cpu_s
from ragbus_tools.bench.fake_model import (
    FAKE_EMBEDDER_CONSENT,
    FAKE_EMBEDDER_ENV,
    BenchFakeEmbedder,
    FakeEmbedderSettingError,
    fake_embedder_from_env,
)
from ragbus_tools.bench.ingest import summarize
from ragbus_tools.bench.plain_loop import plain_loop
from ragbus_tools.bench.report import ingest_tables
from ragbus_tools.bench.uploads import DocumentEvents, Upload, wait_final_events
from schemas import DocumentFailed, DocumentIndexed

pytestmark = pytest.mark.unit


def test_the_fake_is_off_unless_its_consent_value_is_set() -> None:
    settings = InfraSettings()
    assert fake_embedder_from_env(settings, {}) is None
    for value in ("1", "true", "", "Vectors-Are-Meaningless"):
        with pytest.raises(FakeEmbedderSettingError, match=FAKE_EMBEDDER_CONSENT):
            fake_embedder_from_env(settings, {FAKE_EMBEDDER_ENV: value})


def test_the_fake_keeps_the_models_shape_and_tokenizer() -> None:
    fake = fake_embedder_from_env(InfraSettings(), {FAKE_EMBEDDER_ENV: FAKE_EMBEDDER_CONSENT})
    assert isinstance(fake, BenchFakeEmbedder)
    assert (fake.dim, fake.max_tokens, fake.model_id) == (384, 256, "fake/hashing-384")
    # the model's word pieces, not the fake's words: "embeddings" is several pieces
    assert len(fake.tokenizer.encode("embeddings", add_special_tokens=False).ids) > 1
    assert fake.tokenizer.padding is None and fake.tokenizer.truncation is None
    vectors = fake.embed_documents(["one text", "another"])
    assert vectors.shape == (2, 384)


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_meter_reads_a_process_tree_and_the_load() -> None:
    assert tree_cpu_s(2**22 + 1) is None  # no such process
    meter = CpuMeter({"me": os.getpid(), "gone": 2**22 + 1}, sample_every_s=0.01)
    meter.start()
    _spin(0.05)
    reading = meter.stop()
    assert set(reading.cpu_s) == {"me"}
    assert reading.cpu_s["me"] >= 0.03  # 0.05 s spun, read in 10 ms clock ticks
    assert reading.total_s == reading.cpu_s["me"]
    assert len(reading.load_avg["start"]) == 3
    assert reading.load_avg["max_1m"] >= reading.load_avg["mean_1m"] >= 0


def _upload(doc_id: str, *, duplicate: bool = False) -> Upload:
    doc = BenchDocument(f"{doc_id}.txt", b"x")
    return Upload(doc, time.time(), {"id": doc_id, "status": "uploaded"}, duplicate=duplicate)


async def test_documents_are_final_when_their_events_arrive() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    uploads = [_upload(str(ids[0])), _upload(str(ids[1])), _upload(str(ids[2]), duplicate=True)]
    events = DocumentEvents()
    at = datetime.now(UTC)

    async def announce() -> None:
        await asyncio.sleep(0.01)
        indexed = DocumentIndexed(tenant_id="t", document_id=ids[0], version=1, chunks=3,
                                  indexed_at=at)  # fmt: skip
        events.on_indexed(indexed)
        events.on_indexed(indexed.model_copy(update={"chunks": 99}))  # a repeat: first wins
        await asyncio.sleep(0.01)
        events.on_failed(DocumentFailed(tenant_id="t", document_id=ids[1], code="empty_document",
                                        error="empty"))  # fmt: skip

    await asyncio.gather(announce(), wait_final_events(events, uploads, timeout_s=5))
    assert uploads[0].document["status"] == "indexed" and uploads[0].document["chunks"] == 3
    assert uploads[0].indexed_at == pytest.approx(at.timestamp())
    assert events.first_status_at[str(ids[0])]["indexed"] == pytest.approx(at.timestamp())
    assert uploads[1].document["status"] == "failed"
    assert uploads[2].document["status"] == "uploaded"  # a duplicate is not waited for
    with pytest.raises(TimeoutError, match="1 documents"):
        await wait_final_events(DocumentEvents(), uploads[:1], timeout_s=0.05)


def test_report_counts_cpu_per_chunk_without_a_raw_run() -> None:
    upload = _upload(str(uuid.uuid4()))
    at = datetime.fromtimestamp(upload.sent_at + 2, UTC).isoformat()
    upload.document = {**upload.document, "status": "indexed", "chunks": 4, "indexed_at": at}
    cpu = CpuReading({"ragbus up": 0.03, "nats-server": 0.01}, 2.0, {"start": [1.0, 1.0, 1.0],
                     "end": [2.0, 1.0, 1.0], "max_1m": 2.0, "mean_1m": 1.5})  # fmt: skip
    report = summarize([upload], None, {}, cpu)
    assert report["raw_chunks_per_s"] is None and report["ratio"] is None
    assert report["cpu_ms_per_chunk"] == pytest.approx(10.0)
    assert report["cpu_ms_per_document"] == pytest.approx(40.0)
    assert report["cpu_cores_busy"] == pytest.approx(0.02)
    assert report["pipeline_chunks_per_s"] == pytest.approx(2.0)
    assert len(ingest_tables(report)) == 4  # rates, stages, RSS, CPU


async def test_plain_loop_indexes_every_chunk_of_the_accepted_documents() -> None:
    fake = fake_embedder_from_env(InfraSettings(), {FAKE_EMBEDDER_ENV: FAKE_EMBEDDER_CONSENT})
    assert fake is not None
    documents = [
        BenchDocument("a.txt", b"Otters hold hands while they sleep. " * 60),
        BenchDocument("b.txt", b"Glaciers move."),
        BenchDocument("empty.txt", b"   "),  # refused by the parser, as in the pipeline
    ]
    rate = await plain_loop(documents, fake)
    assert rate.chunks >= 3
    assert rate.chunks_per_s is not None and rate.chunks_per_s > 0
    assert rate.cpu_seconds > 0
    assert rate.seconds >= rate.parse_chunk_seconds
