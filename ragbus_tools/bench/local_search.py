"""Dense search of the local index, float32 against int8 first: ``python -m
ragbus_tools.bench.local_search``.

Opens a copy of a local-mode Qdrant folder (``ragbus up``'s ``<data-dir>/qdrant``;
the copy leaves a running stack's lock alone), loads its search index as
retrieve_svc does, embeds ``--n`` questions with the deployment's model, then times
``LocalIndex.dense_search`` for each question, ``--limit`` deep (hybrid reads each
list 100 deep), with the partition's int8 copy and without it. It prints the p50
and p99 in ms, the rows the copy holds and how long it took to build, how many
slots each search scored again in float32, and whether both searches returned the
same chunks with the same scores (they must). Example::

    python -m ragbus_tools.bench.local_search --qdrant /tmp/win-up/data/qdrant \\
        --tenant default --queries ../shared/datasets/scifact/queries_train.jsonl
"""

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from qdrant_client import AsyncQdrantClient

from ragbus.embedding.fastembed_embedder import FastEmbedEmbedder
from ragbus.settings import InfraSettings
from ragbus.stores.vectors.local_partition import TenantPartition
from ragbus.stores.vectors.local_quantized import QuantizedCopy, QuantizedRows
from ragbus.stores.vectors.qdrant_local import local_index


def _ms(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):.3f} ms, p99 {np.percentile(values, 99):.3f} ms"


async def bench(
    folder: Path, collection: str, tenant: str, questions: list[str], limit: int
) -> None:
    """Load, time both searches per question, print the figures."""
    embedder = FastEmbedEmbedder(InfraSettings())
    queries = [embedder.embed_query(q) for q in questions]
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "qdrant"
        shutil.copytree(folder, copy)
        client = AsyncQdrantClient(path=str(copy))
        index = await local_index(client, collection, embedder.dim)
        await client.close()
    part: TenantPartition = index._parts[tenant]
    if part.int8.settle() is None:
        print(f"tenant {tenant!r}: {part.size} slots, too few rows for an int8 copy")
        return
    started = time.perf_counter()
    parts = [part.dense[: part.size], part.extra[: part.extra_size]]
    QuantizedRows(parts, part.extra_owner[: part.extra_size])
    built_ms = (time.perf_counter() - started) * 1000
    rows, megabytes = part.size + part.extra_size, 4 * embedder.dim / 1e6
    print(f"tenant {tenant!r}: {part.size} slots, {rows} dense rows, {rows * megabytes:.1f} MB")
    print(f"int8 copy of every row built in {built_ms:.0f} ms (in a worker thread)")
    timings: dict[str, list[float]] = {"float32": [], "int8 first": []}
    rescored, same = [], 0
    for query in queries:
        hits = {}
        for name in ("float32", "int8 first"):
            held = part.int8
            if name == "float32":
                part.int8 = QuantizedCopy()  # none: every row in float32
            started = time.perf_counter()
            hits[name] = index.dense_search(tenant, query, limit)
            timings[name].append((time.perf_counter() - started) * 1000)
            part.int8 = held
        lower, upper = part.dense_bounds(query)
        floor = np.partition(lower, len(lower) - limit)[len(lower) - limit]
        rescored.append(int((upper >= floor).sum()))
        ours, theirs = hits["int8 first"], hits["float32"]
        same += [(h.chunk.chunk_id, h.score) for h in ours] == [
            (h.chunk.chunk_id, h.score) for h in theirs
        ]
    for name, values in timings.items():
        print(f"{name:<11} dense_search {limit} deep: {_ms(values)}")
    print(
        f"slots scored again in float32 per search: median {np.median(rescored):.0f},"
        f" max {max(rescored)}"
    )
    print(f"same chunks and scores as float32: {same} of {len(queries)} searches")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qdrant", type=Path, required=True, help="a local-mode Qdrant folder")
    parser.add_argument("--collection", default="ragbus_chunks")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--queries", type=Path, required=True, help="a BEIR queries .jsonl")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    lines = [line for line in args.queries.read_text().splitlines() if line.strip()]
    questions = [json.loads(line)["text"] for line in lines[: args.n]]
    asyncio.run(bench(args.qdrant, args.collection, args.tenant, questions, args.limit))


if __name__ == "__main__":
    main()
