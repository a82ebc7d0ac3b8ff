"""``ragbus bench ingest``: pipeline throughput against raw fastembed, in one run.

1. Start a stack (or use the one at ``url``) and upload the documents.
2. Wait until each is final; docs/s and chunks/s are over the wall clock from the
   first upload to the last ``indexed_at``; upload-to-searchable latency per
   document is ``indexed_at`` minus the moment its upload was sent.
3. Stage times come from the ``document.status`` and ``document.indexed`` events.
4. Before the stack starts and after it stops (so the two never share the CPU),
   embed the same chunks in this process with fastembed: the raw rate is the mean
   of the two timings, and ``ratio`` is pipeline / raw.
5. From the first upload to the last final event, the CPU time of every pipeline
   process (``ragbus up``, nats-server, Postgres) is read (``cpu_ms_per_chunk``,
   :mod:`ragbus_tools.bench.cpu`), with the load average meanwhile.

``--embedder fake`` (the bus's ceiling, no model) is :mod:`ragbus_tools.bench.bus_ceiling`.
"""

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragbus.settings import InfraSettings
from ragbus_tools.bench import raw
from ragbus_tools.bench.corpus import BenchDocument, dense_texts, load_documents
from ragbus_tools.bench.cpu import CpuMeter, CpuReading
from ragbus_tools.bench.stats import percentile, rate, ratio, stage_summary
from ragbus_tools.bench.target import Target, given_target, key_for, started_stack
from ragbus_tools.bench.uploads import (
    Upload,
    document_events,
    upload_all,
    wait_final,
    wait_final_events,
)
from ragbus_tools.client import RagbusClient

STAGES = {
    "queued (upload -> parsing)": (None, "parsing"),
    "parse + chunk (parsing -> embedding)": ("parsing", "embedding"),
    "upload -> embedding (queued, parsed, chunked)": (None, "embedding"),
    "embed + store (embedding -> indexed)": ("embedding", "indexed"),
}
"""Stage name -> (status that starts it, ``None`` for the upload; status that ends it).
A small text is never announced ``parsing`` (``ingest_svc.upload_rows``): only the
third stage counts it before ``embedding``."""


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
    texts, chunks = dense_texts(documents, embedder)
    # The target compares int8 with fp32 too: both raw rates are timed before and
    # after the pipeline, so a change in the machine's load weighs on each alike.
    fp32 = None
    if settings.embed_precision != "fp32":
        fp32 = raw.load_embedder(settings.model_copy(update={"embed_precision": "fp32"}))
        fp32_before = raw.raw_rate(fp32, texts, chunks)
    before = raw.raw_rate(embedder, texts, chunks)
    uploads, target, cpu = await ingest_through(documents, options)
    after = raw.raw_rate(embedder, texts, chunks)
    # timed before and after the pipeline: a drift in the machine's other load over
    # the run then weighs on the raw rate about as it does on the pipeline
    reference = raw.RawRate(chunks, (before.seconds + after.seconds) / 2)
    report = summarize(uploads, reference, target.peak_rss_mb, cpu)
    report["raw_before_chunks_per_s"] = before.chunks_per_s
    report["raw_after_chunks_per_s"] = after.chunks_per_s
    report["precision"] = settings.embed_precision
    if fp32 is not None:
        fp32_after = raw.raw_rate(fp32, texts, chunks)
        fp32_rate = raw.RawRate(chunks, (fp32_before.seconds + fp32_after.seconds) / 2)
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


async def ingest_through(
    documents: list[BenchDocument], options: IngestOptions
) -> tuple[list[Upload], Target, CpuReading]:
    """Ingest ``documents`` through the stack at ``options.url``, or one started here
    with ``options.env``; returns the final uploads, the target and the CPU reading."""
    if options.url is not None:
        target = given_target(options.url, options.nats_url)
        uploads, cpu = await _ingest(target, documents, options)
        return uploads, target, cpu
    async with started_stack(embed_workers=options.embed_workers, env=options.env) as target:
        uploads, cpu = await _ingest(target, documents, options)
    return uploads, target, cpu


async def _ingest(
    target: Target, documents: list[BenchDocument], options: IngestOptions
) -> tuple[list[Upload], CpuReading]:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    meter = CpuMeter(target.processes)
    async with (
        RagbusClient(target.url, await key_for(target, tenant)) as client,
        document_events(target.nats_url) as events,
    ):
        meter.start()
        uploads = await upload_all(client, documents, options.concurrency)
        if target.nats_url is None:  # a stack given by URL only: ask the gateway
            await wait_final(client, uploads, options.timeout_s)
        else:
            await wait_final_events(events, uploads, options.timeout_s)
        cpu = meter.stop()
    for upload in uploads:
        upload.first_status_at = events.first_status_at.get(upload.document["id"], {})
    return uploads, cpu


def summarize(
    uploads: list[Upload],
    reference: raw.RawRate | None,
    peak_rss_mb: dict[str, float],
    cpu: CpuReading | None = None,
) -> dict[str, Any]:
    """The report of one run.

    Args:
        uploads: Every upload, final.
        reference: The raw fastembed rate on the same chunks (``None``: not timed).
        peak_rss_mb: Process label -> peak RSS in MiB.
        cpu: CPU time of the pipeline's processes from the first upload to the last
            final event.

    Returns:
        Counts, ``docs_per_s``, ``pipeline_chunks_per_s``, ``p50_searchable_ms``,
        ``p95_searchable_ms``, ``stages`` (p50/p95 ms each), ``peak_rss_mb``,
        ``raw_chunks``, ``raw_chunks_per_s`` and ``ratio`` (pipeline / raw chunks/s),
        ``cpu_s`` (per process), ``cpu_ms_per_chunk``, ``cpu_ms_per_document``,
        ``cpu_cores_busy`` (CPU seconds per second of the measured wall clock) and
        ``load_avg``.
    """
    timed = [u for u in uploads if not u.duplicate]
    indexed = [u for u in timed if u.document["status"] == "indexed" and u.indexed_at]
    chunks = sum(int(u.document.get("chunks") or 0) for u in indexed)
    start = min((u.sent_at for u in timed), default=0.0)
    end = max((u.indexed_at or 0.0 for u in indexed), default=start)
    wall = end - start
    searchable = [((u.indexed_at or 0.0) - u.sent_at) * 1000 for u in indexed]
    pipeline = rate(chunks, wall)
    raw_rate = reference.chunks_per_s if reference is not None else None
    spent = cpu.total_s if cpu is not None and cpu.cpu_s else None
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
        "raw_chunks": reference.chunks if reference is not None else None,
        "raw_seconds": reference.seconds if reference is not None else None,
        "raw_chunks_per_s": raw_rate,
        "ratio": ratio(pipeline, raw_rate),
        "cpu_s": {k: round(v, 3) for k, v in cpu.cpu_s.items()} if cpu is not None else {},
        "cpu_s_total": spent,
        "cpu_ms_per_chunk": ratio(spent * 1000, chunks) if spent is not None else None,
        "cpu_ms_per_document": ratio(spent * 1000, len(indexed)) if spent is not None else None,
        "cpu_cores_busy": ratio(spent, cpu.wall_s) if cpu is not None else None,
        "load_avg": cpu.load_avg if cpu is not None else {},
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
