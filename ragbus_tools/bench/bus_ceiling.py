"""``ragbus bench ingest --embedder fake``: the pipeline with a model that costs nothing.

The stack is the real one (gateway, ingest, embed lanes, nats-server with
``sync_interval: always``, Postgres, Qdrant local mode), started with
:data:`~ragbus_tools.bench.fake_model.FAKE_EMBEDDER_ENV` so ``ragbus up`` embeds with
hashing vectors. What it sustains is then the ceiling the bus puts on any model:
the rate a GPU could be fed at, and the CPU the pipeline spends per chunk around
the model.

In the same run, before the stack starts and after it stops, a plain loop indexes
the same documents in this process (:mod:`ragbus_tools.bench.plain_loop`): the
reference is the mean of the two timings, and ``ratio_to_plain_loop`` is pipeline
chunks/s over the plain loop's. Completion is read from ``document.indexed`` and
``document.failed`` events on NATS, never by polling the gateway.
"""

from typing import Any

from ragbus.settings import InfraSettings
from ragbus_tools.bench.cpu import load_average
from ragbus_tools.bench.fake_model import (
    FAKE_EMBEDDER_CONSENT,
    FAKE_EMBEDDER_ENV,
    bench_fake_embedder,
)
from ragbus_tools.bench.ingest import IngestOptions, ingest_through, summarize
from ragbus_tools.bench.plain_loop import PlainLoopRate, plain_loop
from ragbus_tools.bench.stats import ratio

PLAIN_LOOP_FIELDS = ("chunks_per_s", "cpu_ms_per_chunk", "parse_chunk_s", "embed_store_s")


async def run(options: IngestOptions) -> dict[str, Any]:
    """Run the bus-ceiling benchmark; returns the report.

    Returns:
        :func:`~ragbus_tools.bench.ingest.summarize`'s keys (raw ones ``None``), and
        ``embedder`` (``fake``), ``plain_loop_chunks_per_s``, ``ratio_to_plain_loop``,
        ``plain_loop_before``/``_after`` (each: chunks/s, CPU ms per chunk, seconds
        parsing and chunking, seconds embedding and storing),
        ``cpu_ms_per_chunk_by_process`` and ``load_avg_plain_loop``.

    Raises:
        ValueError: ``options.url`` is set (the fake must be the stack's own model).
        FileNotFoundError: nothing to ingest at ``options.path``.
    """
    from ragbus_tools.bench.corpus import load_documents

    if options.url is not None:
        raise ValueError("--embedder fake starts its own stack; it cannot use --url")
    documents = load_documents(options.path, limit=options.limit)
    if not documents:
        raise FileNotFoundError(f"no documents to ingest in {options.path}")
    embedder = bench_fake_embedder(InfraSettings())
    loads = [load_average()]
    before = await plain_loop(documents, embedder)
    env = {**options.env, FAKE_EMBEDDER_ENV: FAKE_EMBEDDER_CONSENT}
    uploads, target, cpu = await ingest_through(
        documents, IngestOptions(**{**vars(options), "env": env})
    )
    after = await plain_loop(documents, embedder)
    loads.append(load_average())
    report = summarize(uploads, None, target.peak_rss_mb, cpu)
    plain = PlainLoopRate(
        chunks=before.chunks,
        seconds=(before.seconds + after.seconds) / 2,
        cpu_seconds=(before.cpu_seconds + after.cpu_seconds) / 2,
        parse_chunk_seconds=(before.parse_chunk_seconds + after.parse_chunk_seconds) / 2,
        embed_store_seconds=(before.embed_store_seconds + after.embed_store_seconds) / 2,
    )
    chunks = report["chunks"]
    report.update(
        embedder="fake",
        model_id=embedder.model_id,
        plain_loop_chunks=plain.chunks,
        plain_loop_chunks_per_s=plain.chunks_per_s,
        ratio_to_plain_loop=ratio(report["pipeline_chunks_per_s"], plain.chunks_per_s),
        plain_loop_cpu_ms_per_chunk=_per_chunk_ms(plain),
        plain_loop_before=_plain_fields(before),
        plain_loop_after=_plain_fields(after),
        cpu_ms_per_chunk_by_process={
            label: ratio(seconds * 1000, chunks) for label, seconds in report["cpu_s"].items()
        },
        load_avg_plain_loop={"before": loads[0], "after": loads[1]},
        embed_workers=options.embed_workers,
        vector_store=options.env.get("RAGBUS_VECTOR_STORE", "qdrant"),
    )
    return report


def _per_chunk_ms(rate: PlainLoopRate) -> float | None:
    return ratio(rate.cpu_seconds * 1000, rate.chunks)


def _plain_fields(rate: PlainLoopRate) -> dict[str, float | None]:
    return dict(
        zip(
            PLAIN_LOOP_FIELDS,
            (
                rate.chunks_per_s,
                _per_chunk_ms(rate),
                rate.parse_chunk_seconds,
                rate.embed_store_seconds,
            ),
            strict=True,
        )
    )
