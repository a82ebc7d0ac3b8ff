"""Grid-search hybrid's RRF constant and weights from a ``ragbus eval --runs`` file.

``ragbus eval ... --runs runs.json`` keeps the top 100 chunks of every query per
mode. This script fuses the ``dense`` and ``sparse`` lists offline with
:func:`ragbus.stores.vectors.base.rrf_fuse` (the formula Qdrant's ``RrfQuery``
and the pgvector store use) for each ``(k, sparse_weight)`` with the dense weight
at 1, and scores every fused run like ``ragbus eval`` does. Usage::

    python scripts/tune_fusion.py DATASET_DIR SPLIT runs.json [grid.json]
"""

import itertools
import json
import sys
from pathlib import Path
from uuid import UUID

from ragbus.beir import iter_corpus
from ragbus.eval import document_run, load_queries, score
from ragbus.stores.vectors.base import ChunkRecord, ScoredChunk, rrf_fuse

KS = (1, 2, 5, 10, 20, 30, 45, 60, 100)
SPARSE_WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def _hits(ranked: list[list[str]]) -> list[ScoredChunk]:
    """Ranked ``[chunk_id, filename]`` pairs as hits (only id and file name matter)."""
    return [
        ScoredChunk(ChunkRecord(UUID(c), "t", UUID(int=0), 1, 0, "", f, None, None, None, 0), 0.0)
        for c, f in ranked
    ]


def grid(folder: Path, split: str, runs_path: Path) -> dict[str, dict[str, float]]:
    """Metrics of dense, sparse and every fused variant, by name."""
    beir_ids = {d.filename: d.beir_id for d in iter_corpus(folder / "corpus.jsonl")}
    _, qrels = load_queries(folder, split)
    runs = json.loads(runs_path.read_text())
    dense = {q: _hits(r) for q, r in runs["dense"].items()}
    sparse = {q: _hits(r) for q, r in runs["sparse"].items()}
    qrels = {q: qrels[q] for q in dense}

    def evaluate(lists: dict[str, list[ScoredChunk]]) -> dict[str, float]:
        run = {
            q: document_run([{"filename": h.chunk.filename} for h in hits], beir_ids)
            for q, hits in lists.items()
        }
        return score(run, qrels)

    results = {"dense": evaluate(dense), "sparse": evaluate(sparse)}
    for k, ws in itertools.product(KS, SPARSE_WEIGHTS):
        fused = {q: rrf_fuse([dense[q], sparse[q]], [1.0, ws], k=k, limit=100) for q in dense}
        results[f"rrf k={k} ws={ws}"] = evaluate(fused)
    return results


if __name__ == "__main__":
    table = grid(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    for name, metrics in sorted(table.items(), key=lambda kv: -kv[1]["ndcg_10"]):
        print(f"{name:<22} " + " ".join(f"{m}={v:.4f}" for m, v in metrics.items()))
    if len(sys.argv) > 4:
        Path(sys.argv[4]).write_text(json.dumps(table, indent=2) + "\n")
