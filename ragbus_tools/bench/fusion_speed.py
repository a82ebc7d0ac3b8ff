"""Time of hybrid's fusion in Python: ``python -m ragbus_tools.bench.fusion_speed``.

Builds a dense and a sparse list of ``--candidates`` hits each (SciFact's shape: 100
per list drawn from 5,000 documents, a quarter of the chunks in both lists) and
times :func:`ragbus.stores.vectors.fusion.fuse` with each grouping and method,
``top_k`` 15 as the retrieve service asks for ``top_k`` 5. Prints milliseconds per
fusion (median of ``--repeat`` rounds of 200 calls).
"""

import argparse
import random
import statistics
import time
import uuid

from ragbus.stores.vectors.base import ChunkRecord, Fusion, ScoredChunk
from ragbus.stores.vectors.fusion import fuse

SETTINGS = {
    "documents, convex (default)": Fusion(group_by="document", method="convex", alpha=0.7),
    "documents, RRF": Fusion(group_by="document", method="rrf", k=5, sparse_weight=0.75),
    "chunks, RRF": Fusion(group_by="chunk", k=5, sparse_weight=0.75),
}


def _chunk(document: uuid.UUID) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=uuid.uuid4(),
        tenant_id="bench",
        document_id=document,
        version=1,
        chunk_index=0,
        text="",
        filename="bench.txt",
        title=None,
        page=None,
        heading=None,
        token_count=1,
    )


def lists(candidates: int, documents: int, seed: int) -> tuple[list[ScoredChunk], ...]:
    """A dense and a sparse list, best first, sharing a quarter of their chunks."""
    rng = random.Random(seed)
    pool = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(documents)]
    dense = [_chunk(rng.choice(pool)) for _ in range(candidates)]
    shared = dense[: candidates // 4]
    sparse = shared + [_chunk(rng.choice(pool)) for _ in range(candidates - len(shared))]
    rng.shuffle(sparse)
    return (
        [ScoredChunk(c, 0.8 - 0.004 * i, None) for i, c in enumerate(dense)],
        [ScoredChunk(c, 25.0 - 0.2 * i, None) for i, c in enumerate(sparse)],
    )


def main() -> None:
    """Parse arguments, time each setting, print a line per setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    dense, sparse = lists(args.candidates, args.documents, seed=0)
    calls = 200
    for name, fusion in SETTINGS.items():
        rounds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            for _ in range(calls):
                fuse([dense, sparse], fusion, 15)
            rounds.append((time.perf_counter() - started) * 1000 / calls)
        print(f"{name:<28} {statistics.median(rounds):6.3f} ms per fusion")


if __name__ == "__main__":
    main()
