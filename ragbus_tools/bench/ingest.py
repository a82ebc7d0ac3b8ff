"""``ragbus bench ingest``: pipeline throughput against raw fastembed, in one run.

1. Start a stack (or use the one at ``url``) and upload the documents.
2. Wait until each is final; docs/s and chunks/s are over the wall clock from the
   first upload to the last ``indexed_at``; upload-to-searchable latency per
   document is ``indexed_at`` minus the moment its upload was sent.
3. Stage times come from the ``document.status`` and ``document.indexed`` events.
4. Before the stack starts and after it stops (so the two never share the CPU),
   embed the same chunks in this process with fastembed: the raw rate is the mean
   of the two timings, and ``ratio`` is pipeline / raw.
"""

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragbus.settings import InfraSettings
from ragbus_tools.bench import raw
from ragbus_tools.bench.corpus import BenchDocument, chunk_texts, load_documents
from ragbus_tools.bench.stats import percentile, rate, ratio, stage_summary
from ragbus_tools.bench.target import Target, given_target, key_for, started_stack
from ragbus_tools.bench.uploads import Upload, status_events, upload_all, wait_final
from ragbus_tools.client import RagbusClient

STAGES = {
    "queued (upload -> parsing)": (None, "parsing"),
    "parse + chunk (parsing -> embedding)": ("parsing", "embedding"),
    "embed + store (embedding -> indexed)": ("embedding", "indexed"),
}
"""Stage name -> (status that starts it, ``None`` for the upload; status that ends it)."""


@dataclass
class IngestOptions:
    """Arguments of ``ragbus bench ingest``; see the command's help."""

    path: Path
    limit: int | None = None
    url: str | None = None
    nats_url: str | None = None
    embed_workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    concurrency: int = 4
    timeout_s: float = 3600.0
    peer: bool = False


async def run(options: IngestOptions) -> dict[str, Any]:
    """Run the benchmark; returns the report (see :func:`summarize` for its keys)."""
    if options.peer:
        from ragbus_tools.bench.peer import require_peer

        require_peer()  # before the pipeline runs, not after
    documents = load_documents(options.path, limit=options.limit)
    if not documents:
        raise FileNotFoundError(f"no documents to ingest in {options.path}")
    settings = InfraSettings()
    embedder = raw.load_embedder(settings)
    texts = chunk_texts(documents, embedder)
    # The target compares int8 with fp32 too: both raw rates are timed before and
    # after the pipeline, so a change in the machine's load weighs on each alike.
    fp32 = None
    if settings.embed_precision != "fp32":
        fp32 = raw.load_embedder(settings.model_copy(update={"embed_precision": "fp32"}))
        fp32_before = raw.raw_rate(fp32, texts)
    before = raw.raw_rate(embedder, texts)
    if options.url is not None:
        target = given_target(options.url, options.nats_url)
        uploads = await _ingest(target, documents, options)
    else:
        async with started_stack(embed_workers=options.embed_workers, env=options.env) as target:
            uploads = await _ingest(target, documents, options)
    after = raw.raw_rate(embedder, texts)
    # timed before and after the pipeline: a drift in the machine's other load over
    # the run then weighs on the raw rate about as it does on the pipeline
    reference = raw.RawRate(len(texts), (before.seconds + after.seconds) / 2)
    report = summarize(uploads, reference, target.peak_rss_mb)
    report["raw_before_chunks_per_s"] = before.chunks_per_s
    report["raw_after_chunks_per_s"] = after.chunks_per_s
    report["precision"] = settings.embed_precision
    if fp32 is not None:
        fp32_after = raw.raw_rate(fp32, texts)
        fp32_rate = raw.RawRate(len(texts), (fp32_before.seconds + fp32_after.seconds) / 2)
        report["raw_fp32_chunks_per_s"] = fp32_rate.chunks_per_s
        report["raw_fp32_before_chunks_per_s"] = fp32_before.chunks_per_s
        report["raw_fp32_after_chunks_per_s"] = fp32_after.chunks_per_s
        report["ratio_to_raw_fp32"] = ratio(report["pipeline_chunks_per_s"], fp32_rate.chunks_per_s)
    report["embed_workers"] = options.embed_workers
    if options.url is None:
        store = "pgvector" if options.embed_workers > 1 else "qdrant"
        report["vector_store"] = options.env.get("RAGBUS_VECTOR_STORE", store)
    if options.peer:
        from ragbus_tools.bench.peer import run_peer  # optional extra: llama-index

        peer = run_peer(documents)
        report.update(peer)
        report["ragbus_over_peer"] = ratio(report["docs_per_s"], peer["peer_docs_per_s"])
    return report


async def _ingest(
    target: Target, documents: list[BenchDocument], options: IngestOptions
) -> list[Upload]:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    async with (
        RagbusClient(target.url, await key_for(target, tenant)) as client,
        status_events(target.nats_url) as events,
    ):
        uploads = await upload_all(client, documents, options.concurrency)
        await wait_final(client, uploads, options.timeout_s)
    for upload in uploads:
        upload.first_status_at = events.get(upload.document["id"], {})
    return uploads


def summarize(
    uploads: list[Upload], reference: raw.RawRate, peak_rss_mb: dict[str, float]
) -> dict[str, Any]:
    """The report of one run.

    Args:
        uploads: Every upload, final.
        reference: The raw fastembed rate on the same chunks.
        peak_rss_mb: Process label -> peak RSS in MiB.

    Returns:
        Counts, ``docs_per_s``, ``pipeline_chunks_per_s``, ``p50_searchable_ms``,
        ``p95_searchable_ms``, ``stages`` (p50/p95 ms each), ``peak_rss_mb``,
        ``raw_chunks``, ``raw_chunks_per_s`` and ``ratio`` (pipeline / raw chunks/s).
    """
    timed = [u for u in uploads if not u.duplicate]
    indexed = [u for u in timed if u.document["status"] == "indexed" and u.indexed_at]
    chunks = sum(int(u.document.get("chunks") or 0) for u in indexed)
    start = min((u.sent_at for u in timed), default=0.0)
    end = max((u.indexed_at or 0.0 for u in indexed), default=start)
    wall = end - start
    searchable = [((u.indexed_at or 0.0) - u.sent_at) * 1000 for u in indexed]
    pipeline = rate(chunks, wall)
    return {
        "documents": len(uploads),
        "indexed": len(indexed),
        "failed": sum(u.document["status"] == "failed" for u in timed),
        "duplicates": len(uploads) - len(timed),
        "chunks": chunks,
        "wall_s": wall,
        "docs_per_s": rate(len(indexed), wall),
        "pipeline_chunks_per_s": pipeline,
        "p50_searchable_ms": percentile(searchable, 50),
        "p95_searchable_ms": percentile(searchable, 95),
        "stages": stage_summary(_stage_durations(indexed)),
        "peak_rss_mb": dict(peak_rss_mb),
        "raw_chunks": reference.chunks,
        "raw_seconds": reference.seconds,
        "raw_chunks_per_s": reference.chunks_per_s,
        "ratio": ratio(pipeline, reference.chunks_per_s),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _stage_durations(uploads: list[Upload]) -> dict[str, list[float]]:
    durations: dict[str, list[float]] = {name: [] for name in STAGES}
    for upload in uploads:
        times = upload.first_status_at
        for name, (begin, end) in STAGES.items():
            began = upload.sent_at if begin is None else times.get(begin)
            ended = times.get(end)
            if began is not None and ended is not None:
                durations[name].append(ended - began)
    return durations
