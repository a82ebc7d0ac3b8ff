"""Grid-search hybrid's RRF constant and weights from a ``ragbus eval --runs`` file.

``ragbus eval ... --runs runs.json`` keeps the top 100 chunks of every query per
mode. This script fuses the ``dense`` and ``sparse`` lists offline with
:func:`ragbus.stores.vectors.base.rrf_fuse` (the formula Qdrant's ``RrfQuery``
and the pgvector store use) for each ``(k, sparse_weight)`` with the dense weight
at 1, and scores every fused run like ``ragbus eval`` does.

Tuning and scoring on the same queries flatters the winner, so it also reports a
2-fold cross-validation: the queries are split by sorted id (even and odd
positions), the best ``(k, sparse_weight)`` on one half is scored on the other,
and each half's held-out nDCG@10 is printed next to dense, sparse and plain RRF
(k=60, 1:1) on the same half. Usage::

    python -m ragbus_tools.tune_fusion DATASET_DIR SPLIT runs.json [grid.json]
"""

import itertools
import json
import sys
from pathlib import Path
from uuid import UUID

from ragbus.stores.vectors.base import ChunkRecord, ScoredChunk, rrf_fuse
from ragbus_tools.beir import iter_corpus
from ragbus_tools.eval import document_run, load_queries, score

KS = (1, 2, 5, 10, 20, 30, 45, 60, 100)
SPARSE_WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def _hits(ranked: list[list[str]]) -> list[ScoredChunk]:
    """Ranked ``[chunk_id, filename]`` pairs as hits (only id and file name matter)."""
    return [
        ScoredChunk(ChunkRecord(UUID(c), "t", UUID(int=0), 1, 0, "", f, None, None, None, 0), 0.0)
        for c, f in ranked
    ]


class _Runs:
    """The dense and sparse runs of a ``--runs`` file, scored against the qrels."""

    def __init__(self, folder: Path, split: str, runs_path: Path) -> None:
        self.beir_ids = {d.filename: d.beir_id for d in iter_corpus(folder / "corpus.jsonl")}
        _, qrels = load_queries(folder, split)
        runs = json.loads(runs_path.read_text())
        self.dense = {q: _hits(r) for q, r in runs["dense"].items()}
        self.sparse = {q: _hits(r) for q, r in runs["sparse"].items()}
        self.qrels = {q: qrels[q] for q in self.dense}

    def fused(self, k: int, ws: float, queries: list[str]) -> dict[str, list[ScoredChunk]]:
        return {
            q: rrf_fuse([self.dense[q], self.sparse[q]], [1.0, ws], k=k, limit=100) for q in queries
        }

    def evaluate(self, lists: dict[str, list[ScoredChunk]]) -> dict[str, float]:
        run = {
            q: document_run([{"filename": h.chunk.filename} for h in hits], self.beir_ids)
            for q, hits in lists.items()
        }
        return score(run, {q: self.qrels[q] for q in lists})


def grid(folder: Path, split: str, runs_path: Path) -> dict[str, dict[str, float]]:
    """Metrics of dense, sparse and every fused variant, by name."""
    runs = _Runs(folder, split, runs_path)
    every = sorted(runs.dense)
    results = {"dense": runs.evaluate(runs.dense), "sparse": runs.evaluate(runs.sparse)}
    for k, ws in itertools.product(KS, SPARSE_WEIGHTS):
        results[f"rrf k={k} ws={ws}"] = runs.evaluate(runs.fused(k, ws, every))
    return results


def cross_validate(folder: Path, split: str, runs_path: Path) -> list[dict[str, object]]:
    """Per half: the setting tuned on the other half and nDCG@10 of each method on this one."""
    runs = _Runs(folder, split, runs_path)
    every = sorted(runs.dense)
    halves = [every[0::2], every[1::2]]
    report: list[dict[str, object]] = []
    for tune, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        best = max(
            itertools.product(KS, SPARSE_WEIGHTS),
            key=lambda p: runs.evaluate(runs.fused(p[0], p[1], tune))["ndcg_10"],
        )
        report.append(
            {
                "queries": len(test),
                "tuned_on_other_half": {"k": best[0], "sparse_weight": best[1]},
                "hybrid_tuned": runs.evaluate(runs.fused(best[0], best[1], test))["ndcg_10"],
                "hybrid_k60": runs.evaluate(runs.fused(60, 1.0, test))["ndcg_10"],
                "dense": runs.evaluate({q: runs.dense[q] for q in test})["ndcg_10"],
                "sparse": runs.evaluate({q: runs.sparse[q] for q in test})["ndcg_10"],
            }
        )
    return report


if __name__ == "__main__":
    table = grid(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    for name, metrics in sorted(table.items(), key=lambda kv: -kv[1]["ndcg_10"]):
        print(f"{name:<22} " + " ".join(f"{m}={v:.4f}" for m, v in metrics.items()))
    folds = cross_validate(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    print("2-fold cross-validation (nDCG@10 on the held-out half):")
    for fold in folds:
        print(json.dumps(fold))
    if len(sys.argv) > 4:
        table_out = {"grid": table, "cross_validation": folds}
        Path(sys.argv[4]).write_text(json.dumps(table_out, indent=2) + "\n")
