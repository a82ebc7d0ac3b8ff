"""The embed stage on a GPU, alone and inside the pipeline, in one run.

On a machine where onnxruntime can run the model through CUDA
(``RAGBUS_EMBED_DEVICE=cuda``, extra ``ragbus[gpu]``), this runs ``ragbus bench
ingest``'s method with the GPU embedder everywhere: the chunks ingest_svc makes of
the documents are embedded in this process (the embed stage alone, timed before and
after the pipeline), and ``ragbus up`` (authenticated nats-server, Postgres, Qdrant
local mode) ingests the same documents with its embedder on the GPU. It prints both
rates in chunks/s as JSON, with the load average and the GPU's name.

On a machine without a usable CUDA device it says so, says what it would measure,
and exits 0; ``--cpu-figures`` then measures what can be measured on the CPU: the
embed stage with texts grouped by token length into calls (what the embedder does
on either device) against the same texts in calls of the same size in corpus order.

Usage::

    python -m ragbus_tools.bench.gpu_embed [CORPUS] [--limit 2000] [--env NAME=VALUE]
    python -m ragbus_tools.bench.gpu_embed --limit 300 --cpu-figures   # no GPU here

``--env`` passes settings to both sides, e.g. ``RAGBUS_EMBED_BATCH_MESSAGES=32`` for
larger pulls per model call in the pipeline (8 by default, sized for a CPU).
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ragbus.embedding import FastEmbedEmbedder
from ragbus.errors import EmbeddingDeviceError
from ragbus.settings import InfraSettings

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared/datasets/scifact/corpus.jsonl"

WHAT_IT_MEASURES = (
    "On a GPU it would measure, on the first {limit} documents of {corpus}: (1) the embed "
    "stage alone, the chunks ingest_svc makes of them embedded by FastEmbedEmbedder with "
    "RAGBUS_EMBED_DEVICE=cuda (onnxruntime's CUDA provider, calls of up to 256 texts "
    "grouped by token length), timed before and after the pipeline; (2) the whole "
    "pipeline, ragbus up with the same GPU embedder ingesting the same documents; and "
    "print chunks/s for both as JSON."
)


def cuda_unavailable() -> str | None:
    """Why the model cannot run on a GPU here, or ``None`` when it can."""
    probe = FastEmbedEmbedder(InfraSettings(embed_device="cuda"))
    try:
        probe.warm_up()
    except EmbeddingDeviceError as exc:
        return str(exc)
    return None


def gpu_name() -> str | None:
    """The first GPU's name from ``nvidia-smi``, if it is installed."""
    if shutil.which("nvidia-smi") is None:
        return None
    result = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else None


def measure_gpu(corpus: Path, limit: int, extra_env: dict[str, str]) -> dict[str, Any]:
    """``ragbus bench ingest``'s run with ``RAGBUS_EMBED_DEVICE=cuda`` everywhere."""
    from ragbus_tools.bench import ingest as bench_ingest

    env = {**extra_env, "RAGBUS_EMBED_DEVICE": "cuda"}
    os.environ.update(env)  # the embed stage alone, in this process, reads it too
    loads = [os.getloadavg()]
    options = bench_ingest.IngestOptions(path=corpus, limit=limit, env=env)
    report = asyncio.run(bench_ingest.run(options))
    loads.append(os.getloadavg())
    return {
        "device": "cuda",
        "gpu": gpu_name(),
        "documents": report["indexed"],
        "chunks": report["chunks"],
        "embed_stage_chunks_per_s": report["raw_chunks_per_s"],
        "embed_stage_before_chunks_per_s": report["raw_before_chunks_per_s"],
        "embed_stage_after_chunks_per_s": report["raw_after_chunks_per_s"],
        "pipeline_chunks_per_s": report["pipeline_chunks_per_s"],
        "pipeline_over_embed_stage": report["ratio"],
        "docs_per_s": report["docs_per_s"],
        "env": env,
        "load_average_start_end": [round(x[0], 2) for x in loads],
    }


def measure_cpu_bucketing(corpus: Path, limit: int, rounds: int) -> dict[str, Any]:
    """The embed stage on the CPU, grouped by token length against corpus order.

    Both take turns ``rounds`` times on the same chunks with the same call size
    (``RAGBUS_EMBED_BATCH_SIZE``); the medians are compared.
    """
    from ragbus_tools.bench.corpus import chunk_texts, load_documents

    settings = InfraSettings(embed_device="cpu")
    embedder = FastEmbedEmbedder(settings)
    embedder.warm_up()
    texts = chunk_texts(load_documents(corpus, limit=limit), embedder)
    size = settings.embed_batch_size
    model = embedder._model  # fastembed's TextEmbedding: calls exactly as given

    def in_corpus_order() -> None:
        for start in range(0, len(texts), size):
            batch = texts[start : start + size]
            list(model.embed(batch, batch_size=len(batch)))

    timings: dict[str, list[float]] = {"bucketed": [], "corpus_order": []}
    loads = [os.getloadavg()]
    for _ in range(rounds):
        for name, run in (
            ("bucketed", lambda: embedder.embed_documents(texts)),
            ("corpus_order", in_corpus_order),
        ):
            started = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - started)
    loads.append(os.getloadavg())
    bucketed = len(texts) / float(np.median(timings["bucketed"]))
    in_order = len(texts) / float(np.median(timings["corpus_order"]))
    return {
        "device": "cpu",
        "chunks": len(texts),
        "call_size": size,
        "threads": settings.embed_threads,
        "rounds": rounds,
        "bucketed_chunks_per_s": bucketed,
        "corpus_order_chunks_per_s": in_order,
        "bucketing_speedup": bucketed / in_order,
        "load_average_start_end": [round(x[0], 2) for x in loads],
    }


def main(argv: list[str] | None = None) -> int:
    """Measure on the GPU, or say why not; returns the exit code (0 without a GPU too)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=SCIFACT)
    parser.add_argument("--limit", type=int, default=2000, help="first N documents")
    parser.add_argument(
        "--cpu-figures",
        action="store_true",
        help="without a GPU: time length-grouped calls against corpus order on the CPU",
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns of --cpu-figures")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra settings"
    )
    args = parser.parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.env)
    reason = cuda_unavailable()
    if reason is None:
        print(json.dumps(measure_gpu(args.corpus, args.limit, extra_env)))
        return 0
    print(f"no CUDA device found, so nothing was measured on a GPU: {reason}")
    print(WHAT_IT_MEASURES.format(limit=args.limit, corpus=args.corpus))
    if args.cpu_figures:
        print(json.dumps(measure_cpu_bucketing(args.corpus, args.limit, args.rounds)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
