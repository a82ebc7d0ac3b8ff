"""Grid-search hybrid's RRF constant and weights on a BEIR dataset already ingested.

Reads the dense and the sparse top-100 chunks of every query straight from the
vector store (stop ``ragbus up`` first: Qdrant local mode allows one opener), then
fuses them offline with :func:`ragbus.stores.vectors.base.rrf_fuse` for each
``(k, dense_weight, sparse_weight)`` and scores the runs like ``ragbus eval``.
A fresh eval tenant holds one indexed version of each document and no stale
chunks, so no visibility check is needed. Usage::

    RAGBUS_DATA_DIR=/tmp/rb-q python scripts/tune_fusion.py DATASET_DIR TENANT [SPLIT]
"""

import asyncio
import itertools
import json
import sys
from pathlib import Path

from ragbus.beir import iter_corpus
from ragbus.embedding import get_embedder
from ragbus.eval import document_run, load_queries, score
from ragbus.settings import InfraSettings
from ragbus.stores.factory import open_vector_store
from ragbus.stores.vectors.base import ScoredChunk, rrf_fuse

N = 100


async def main(folder: Path, tenant: str, split: str) -> dict[str, dict[str, float]]:
    infra = InfraSettings()
    embedder = get_embedder(infra)
    embedder.warm_up()
    store = await open_vector_store(infra)
    await store.open(model_id=embedder.model_id, dim=embedder.dim)
    beir_ids = {d.filename: d.beir_id for d in iter_corpus(folder / "corpus.jsonl")}
    queries, qrels = load_queries(folder, split)
    lists: dict[str, tuple[list[ScoredChunk], list[ScoredChunk]]] = {}
    for qid, text in queries.items():
        vector = embedder.embed_query(text)
        common = {"tenant_id": tenant, "vector": vector, "top_k": N, "text": text}
        dense = await store.search(**common, mode="dense")
        sparse = await store.search(**common, mode="sparse")
        lists[qid] = (dense, sparse)
    await store.close()

    def run_of(pick: dict[str, list[ScoredChunk]]) -> dict[str, dict[str, float]]:
        return {
            q: document_run([{"filename": h.chunk.filename} for h in hits], beir_ids)
            for q, hits in pick.items()
        }

    results = {
        "dense": score(run_of({q: d for q, (d, _) in lists.items()}), qrels),
        "sparse": score(run_of({q: s for q, (_, s) in lists.items()}), qrels),
    }
    for k, wd, ws in itertools.product([1, 2, 5, 10, 20, 30, 60, 100], [1.0], [0.5, 0.75, 1.0,
                                       1.25, 1.5, 2.0]):  # fmt: skip
        fused = {q: rrf_fuse([d, s], [wd, ws], k=k, limit=N) for q, (d, s) in lists.items()}
        results[f"rrf k={k} wd={wd} ws={ws}"] = score(run_of(fused), qrels)
    for name, metrics in sorted(results.items(), key=lambda kv: -kv[1]["ndcg_10"]):
        print(f"{name:<28} " + " ".join(f"{m}={v:.4f}" for m, v in metrics.items()))
    return results


if __name__ == "__main__":
    split = sys.argv[3] if len(sys.argv) > 3 else "test"
    grid = asyncio.run(main(Path(sys.argv[1]), sys.argv[2], split))
    Path("fusion_grid.json").write_text(json.dumps(grid, indent=2) + "\n")
